using System.Runtime.InteropServices;

namespace Relay.Gateway.Connections;

/// <summary>
/// The process's limit on open file descriptors (<c>RLIMIT_NOFILE</c>), which every socket counts against on Linux and
/// macOS. The .NET runtime raises the soft limit to the hard one when it starts, so the soft limit read here is the
/// most the process will ever get.
/// </summary>
internal static class OpenFileLimit
{
    private const int LinuxNoFile = 7;
    private const int MacNoFile = 8;
    private const ulong Infinity = ulong.MaxValue; // RLIM_INFINITY on Linux and macOS

    /// <summary>The soft limit, or null where there is none to read (Windows) or it is unlimited.</summary>
    public static long? Current { get; } = Read();

    private static long? Read()
    {
        var resource = OperatingSystem.IsLinux() ? LinuxNoFile : OperatingSystem.IsMacOS() ? MacNoFile : -1;
        if (resource < 0 || GetRLimit(resource, out var limit) != 0) return null;
        return limit.Current is Infinity or > long.MaxValue ? null : (long)limit.Current;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    // DllImport, not LibraryImport: the signature is blittable, so no marshalling code is generated either way, and
    // LibraryImport would need unsafe code in the whole project.
    [DllImport("libc", EntryPoint = "getrlimit")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int GetRLimit(int resource, out RLimit limit);
}

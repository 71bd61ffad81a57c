using Microsoft.Win32.SafeHandles;

namespace Relay.Gateway.Connections;

/// <summary>
/// File descriptors held open (on <c>/dev/null</c>) for the moment the process runs out of them: released, they let the
/// runtime open what it still needs (assemblies it loads late, <c>/proc</c> files the GC reads) and let the listener
/// accept pending connections just to refuse them. Without them, a process at its open-file limit fails every such
/// open, and the .NET runtime does not survive that for long. Empty on Windows, where sockets are no file descriptors.
/// </summary>
internal sealed class DescriptorReserve : IDisposable
{
    public const int Size = 64;

    private readonly Stack<SafeFileHandle> _held = new();

    public DescriptorReserve() => TryRefill();

    /// <summary>Descriptors held now.</summary>
    public int Held
    {
        get { lock (_held) return _held.Count; }
    }

    /// <summary>Gives every held descriptor back to the process.</summary>
    public void Release()
    {
        lock (_held)
        {
            while (_held.TryPop(out var handle)) handle.Dispose();
        }
    }

    /// <summary>Holds <see cref="Size"/> descriptors again, or none: false when the process has not that many to spare
    /// (a partial reserve would only take them from the runtime, which needs them more).</summary>
    public bool TryRefill()
    {
        if (OperatingSystem.IsWindows()) return true;
        lock (_held)
        {
            try
            {
                while (_held.Count < Size) _held.Push(File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read));
                return true;
            }
            catch (IOException)
            {
                // EMFILE: the limit is still reached
                while (_held.TryPop(out var handle)) handle.Dispose();
                return false;
            }
        }
    }

    public void Dispose() => Release();
}

using System.Text;

namespace Relay.Benchmarks;

/// <summary>Frames as meshbench sends them (bench/compare.sh's default payloads), built once.</summary>
public static class Frames
{
    /// <summary>A direct message with a 1024-byte pad, as in the compare's direct scenario.</summary>
    public static readonly byte[] Direct = Build("direct", "\"to\":\"peer-17\",", 1024);

    /// <summary>A broadcast with a 512-byte pad, as in the compare's broadcast scenario (echo-suppressible: hashed).</summary>
    public static readonly byte[] Broadcast = Build("broadcast", "", 512);

    private static byte[] Build(string type, string to, int pad) => Encoding.UTF8.GetBytes(
        $$$"""{"type":"{{{type}}}","from":"peer-16",{{{to}}}"data":{"run":"r-1764049300","src":"peer-16","seq":123456,"t":98765.4321,"pad":"{{{new string('x', pad)}}}"}}""");
}

namespace Relay.Protocol;

/// <summary>
/// The last few short strings one connection's frames named (its own peer id in <c>from</c>, the peers it
/// addresses in <c>to</c>), by their UTF-8 bytes: parsing the same name again returns the same string instead of
/// decoding a new one, so that routing a connection's usual frames allocates nothing.
/// </summary>
/// <remarks>Used by one reader at a time (a connection's frames are parsed one after the other), so no lock.
/// Bounded: <see cref="Capacity"/> entries of at most <see cref="MaxBytes"/> bytes, the oldest replaced first.</remarks>
public sealed class Utf8StringCache
{
    public const int Capacity = 4;

    public const int MaxBytes = 128;

    private readonly byte[][] _keys = new byte[Capacity][];
    private readonly string[] _values = new string[Capacity];
    private int _count;
    private int _next;

    /// <summary>The string whose UTF-8 is <paramref name="utf8"/> (unescaped), when it is cached.</summary>
    public string? Find(ReadOnlySpan<byte> utf8)
    {
        for (var i = 0; i < _count; i++)
        {
            if (utf8.SequenceEqual(_keys[i]))
            {
                return _values[i];
            }
        }

        return null;
    }

    /// <summary>Remembers <paramref name="value"/>, decoded from <paramref name="utf8"/>, unless it is too long.</summary>
    public void Add(ReadOnlySpan<byte> utf8, string value)
    {
        if (utf8.Length > MaxBytes)
        {
            return;
        }

        _keys[_next] = utf8.ToArray();
        _values[_next] = value;
        _next = (_next + 1) % Capacity;
        if (_count < Capacity)
        {
            _count++;
        }
    }
}

using System.Buffers;
using System.Globalization;

namespace Relay.Protocol;

/// <summary>
/// Appends JSON pieces into a pooled buffer and hands out one exact-size array at the end, so the
/// frames the relay makes cost a single allocation each.
/// </summary>
internal ref struct FrameBuilder
{
    private byte[] _buffer;
    private int _length;

    public FrameBuilder(int capacityHint)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(capacityHint, 256));
    }

    public void Raw(scoped ReadOnlySpan<byte> json)
    {
        json.CopyTo(Reserve(json.Length));
        _length += json.Length;
    }

    public void String(string value)
    {
        _length += JsonText.WriteString(value, Reserve(JsonText.QuotedLength(value)));
    }

    public void UnixSeconds(double value)
    {
        UnixTime.TryFormat(value, Reserve(UnixTime.MaxFormattedLength), out var written);
        _length += written;
    }

    public void Integer(int value)
    {
        value.TryFormat(Reserve(11), out var written, default, CultureInfo.InvariantCulture);
        _length += written;
    }

    /// <summary>Copies the frame out and returns the pooled buffer; the builder is unusable afterwards.</summary>
    public byte[] ToArrayAndRelease()
    {
        var result = _buffer.AsSpan(0, _length).ToArray();
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
        _length = 0;
        return result;
    }

    private Span<byte> Reserve(int size)
    {
        if (_buffer.Length - _length < size)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + size));
            _buffer.AsSpan(0, _length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }

        return _buffer.AsSpan(_length);
    }
}

using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;

namespace Relay.Protocol;

/// <summary>
/// Streaming form of <see cref="CanonicalJson.Hash"/>: fed one reader token at a time, so the parser
/// hashes <c>data</c> during its single pass. Each token is hashed as a tag plus its canonical
/// content: strings unescaped and length-prefixed (so <c>["a","sb"]</c> and <c>["as","b"]</c>
/// differ), numbers as their double value when that identifies the literal, structure by tags
/// (so <c>["a"]</c>, <c>"a"</c> and <c>{"a":…}</c> differ). The type is hashed last.
/// </summary>
internal readonly struct CanonicalHasher
{
    // XxHash3 is deterministic across processes and machines (the hash may travel between nodes).
    // Its instance is a few hundred bytes, so each thread keeps a spare instead of allocating per frame;
    // taking it out while in use keeps a re-entrant call (e.g. from a predicate) from sharing state.
    [ThreadStatic]
    private static XxHash3? _threadSpare;

    private const int StackLimit = 256;
    private const int MaxExactDigits = 15;

    private readonly XxHash3 _state;

    private CanonicalHasher(XxHash3 state) => _state = state;

    public bool IsActive => _state is not null;

    public static CanonicalHasher Start()
    {
        var state = _threadSpare;
        _threadSpare = null;
        if (state is null)
        {
            state = new XxHash3();
        }
        else
        {
            state.Reset();
        }

        return new CanonicalHasher(state);
    }

    /// <summary>Hashes the token the reader is on.</summary>
    public void Append(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject: Tag((byte)'{'); break;
            case JsonTokenType.EndObject: Tag((byte)'}'); break;
            case JsonTokenType.StartArray: Tag((byte)'['); break;
            case JsonTokenType.EndArray: Tag((byte)']'); break;
            case JsonTokenType.True: Tag((byte)'t'); break;
            case JsonTokenType.False: Tag((byte)'f'); break;
            case JsonTokenType.Null: Tag((byte)'z'); break;
            case JsonTokenType.PropertyName: Text((byte)'p', ref reader); break;
            case JsonTokenType.String: Text((byte)'s', ref reader); break;
            case JsonTokenType.Number: Number(ref reader); break;
            default: break;
        }
    }

    /// <summary>Adds the type, returns the hash and gives the state back for reuse.</summary>
    public ulong Finish(string type)
    {
        var length = Encoding.UTF8.GetByteCount(type);
        byte[]? rented = null;
        var bytes = length <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(length));
        Encoding.UTF8.GetBytes(type, bytes);
        Prefixed((byte)'T', bytes[..length]);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        var hash = _state.GetCurrentHashAsUInt64();
        _threadSpare = _state;
        return hash;
    }

    private void Tag(byte tag) => _state.Append([tag]);

    private void Prefixed(byte tag, scoped ReadOnlySpan<byte> content)
    {
        Span<byte> header = stackalloc byte[5];
        header[0] = tag;
        BinaryPrimitives.WriteInt32LittleEndian(header[1..], content.Length);
        _state.Append(header);
        _state.Append(content);
    }

    private void Text(byte tag, ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            Prefixed(tag, reader.ValueSpan);
            return;
        }

        // Unescaped text is never longer than its escaped form.
        var max = reader.ValueSpan.Length;
        byte[]? rented = null;
        var buffer = max <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            var length = reader.CopyString(buffer);
            Prefixed(tag, buffer[..length]);
        }
        catch (InvalidOperationException)
        {
            // A lone-surrogate escape has no UTF-8 form; its spelling is the best identity left.
            Prefixed((byte)(tag - 32), reader.ValueSpan);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private void Number(ref Utf8JsonReader reader)
    {
        if (TryGetExactDouble(ref reader, out var value))
        {
            Span<byte> bytes = stackalloc byte[9];
            bytes[0] = (byte)'n';
            BinaryPrimitives.WriteDoubleLittleEndian(bytes[1..], value);
            _state.Append(bytes);
        }
        else
        {
            Prefixed((byte)'N', reader.ValueSpan);
        }
    }

    /// <summary>
    /// The literal's value as a double when that double stands for exactly this decimal value: at most
    /// 15 significant digits (every such decimal round-trips through a double) and neither overflow nor
    /// underflow. Other literals are compared by their text.
    /// </summary>
    private static bool TryGetExactDouble(ref Utf8JsonReader reader, out double value)
    {
        var firstSignificant = -1;
        var lastSignificant = -1;
        var digit = 0;
        foreach (var b in reader.ValueSpan)
        {
            if (b is (byte)'e' or (byte)'E')
            {
                break;
            }

            if (b is >= (byte)'0' and <= (byte)'9')
            {
                if (b != '0')
                {
                    if (firstSignificant < 0)
                    {
                        firstSignificant = digit;
                    }

                    lastSignificant = digit;
                }

                digit++;
            }
        }

        var significant = firstSignificant < 0 ? 0 : lastSignificant - firstSignificant + 1;
        if (significant > MaxExactDigits || !reader.TryGetDouble(out value) || !double.IsFinite(value))
        {
            value = 0;
            return false;
        }

        if (value == 0)
        {
            // -0 and 0 are one value; a non-zero literal that underflowed is not.
            value = 0;
            return significant == 0;
        }

        return double.IsNormal(value);
    }
}

using System.Text.Json;

namespace Relay.Protocol;

/// <summary>
/// What <see cref="FrameParser.Parse"/> learned from one frame. Ranges index into the parsed bytes,
/// which the caller keeps, so nothing of the frame is copied. On <see cref="ParseError.MissingType"/>
/// and <see cref="ParseError.InvalidField"/> the other members are still filled (the relay copies
/// <see cref="TurnId"/> into its error reply); on <see cref="ParseError.InvalidJson"/> and
/// <see cref="ParseError.NotAnObject"/> they are defaults.
/// </summary>
public readonly struct ParsedFrame
{
    internal ParsedFrame(ParseError error, string? errorDetail)
    {
        Error = error;
        ErrorDetail = errorDetail;
        Type = string.Empty;
        Kind = FrameKind.Broadcast;
    }

    internal ParsedFrame(
        ParseError error,
        string? errorDetail,
        FrameKind kind,
        string type,
        string? from,
        bool hasFrom,
        string? to,
        string? targetInstanceId,
        bool hasSender,
        bool hasTimestamp,
        Range turnId,
        Range data,
        JsonValueKind dataKind,
        ulong dataHash,
        string[]? agents,
        string? token,
        int closingBrace,
        bool isEmptyObject)
    {
        Error = error;
        ErrorDetail = errorDetail;
        Kind = kind;
        Type = type;
        From = from;
        HasFrom = hasFrom;
        To = to;
        TargetInstanceId = targetInstanceId;
        HasSender = hasSender;
        HasTimestamp = hasTimestamp;
        TurnId = turnId;
        Data = data;
        DataKind = dataKind;
        DataHash = dataHash;
        Agents = agents;
        Token = token;
        ClosingBrace = closingBrace;
        IsEmptyObject = isEmptyObject;
    }

    public ParseError Error { get; }

    /// <summary>Human-readable reason for <see cref="Error"/>, suitable for an error frame's <c>data.error</c>.</summary>
    public string? ErrorDetail { get; }

    public FrameKind Kind { get; }

    /// <summary>The <c>type</c>; a <see cref="FrameTypes"/> instance for well-known types, empty when absent.</summary>
    public string Type { get; }

    public string? From { get; }

    /// <summary>The frame has a <c>from</c> property, possibly null. The relay fills <c>from</c> only when it is
    /// absent: a null <c>from</c> is the client's own value and is forwarded as it is.</summary>
    public bool HasFrom { get; }

    public string? To { get; }

    public string? TargetInstanceId { get; }

    /// <summary>The client sent a <c>sender</c> property, which the relay must not forward as given.</summary>
    public bool HasSender { get; }

    public bool HasTimestamp { get; }

    /// <summary>Raw JSON of <c>turnId</c> (any JSON type); empty when absent.</summary>
    public Range TurnId { get; }

    /// <summary>Raw JSON of <c>data</c>; empty when absent.</summary>
    public Range Data { get; }

    /// <summary>JSON kind of <c>data</c>; <see cref="JsonValueKind.Undefined"/> when absent.</summary>
    public JsonValueKind DataKind { get; }

    /// <summary><see cref="CanonicalJson.Hash"/> of (type, data) when the caller asked for it, else 0.</summary>
    public ulong DataHash { get; }

    /// <summary>
    /// Presence frames only: the agent names of <c>data.agents</c> when it is an array (string items,
    /// and the <c>name</c> of object items); null when absent or not an array.
    /// </summary>
    public string[]? Agents { get; }

    /// <summary>The <c>token</c> string property (auth frames).</summary>
    public string? Token { get; }

    /// <summary>Index of the top-level object's closing brace, where stamps are spliced in.</summary>
    public int ClosingBrace { get; }

    /// <summary>The top-level object has no properties (so a stamp needs no leading comma).</summary>
    public bool IsEmptyObject { get; }

    public bool IsValid => Error == ParseError.None;
}

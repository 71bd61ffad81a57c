namespace Relay.Protocol;

/// <summary>Why <see cref="FrameParser.Parse"/> rejected a frame.</summary>
public enum ParseError
{
    /// <summary>The frame is a well-formed object with a string <c>type</c>.</summary>
    None,

    /// <summary>Not parseable as exactly one JSON value (includes invalid UTF-8 and nesting deeper than 64).</summary>
    InvalidJson,

    /// <summary>Valid JSON whose top-level value is not an object.</summary>
    NotAnObject,

    /// <summary><c>type</c> is absent, not a string, or empty.</summary>
    MissingType,

    /// <summary><c>from</c>, <c>to</c> or <c>targetInstanceId</c> is present but not a string.</summary>
    InvalidField,
}

namespace Relay.Protocol;

/// <summary>An error the relay answers a frame with: its <c>data.code</c> (one of <see cref="ErrorCodes"/>) and
/// <c>data.error</c> text.</summary>
public readonly record struct RelayError(string Code, string Message);

namespace Relay.Gateway.Authentication;

/// <summary>How a token check ended.</summary>
internal enum TokenStatus
{
    /// <summary>The token is valid: <see cref="TokenCheck.Principal"/> is set.</summary>
    Valid,

    /// <summary>The token is refused: <see cref="TokenCheck.Error"/> says why.</summary>
    Invalid,

    /// <summary>The token could not be checked: the identity provider's metadata was never obtained.</summary>
    Unavailable,
}

/// <summary>The outcome of <see cref="TokenValidator.ValidateAsync"/>. <see cref="Error"/> is a short fixed text
/// (safe for an HTTP header, a close reason and a log line): it never contains the token or its claims.</summary>
internal readonly record struct TokenCheck(TokenStatus Status, ConnectionPrincipal? Principal, string? Error)
{
    public static TokenCheck Valid(ConnectionPrincipal principal) => new(TokenStatus.Valid, principal, null);

    public static TokenCheck Invalid(string error) => new(TokenStatus.Invalid, null, error);

    public static TokenCheck Unavailable() => new(TokenStatus.Unavailable, null, "identity provider unavailable");
}

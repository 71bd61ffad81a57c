namespace Relay.Protocol;

/// <summary>Which strings may be registered as a peer id.</summary>
public static class PeerIds
{
    /// <summary>
    /// True when <paramref name="id"/> is non-empty, at most <paramref name="maxLength"/> chars, not the
    /// reserved <see cref="RelayFrames.RelayId"/> (nor reads as it: <see cref="RelayLookalikes"/>) and free of control characters; otherwise
    /// <paramref name="problem"/> says why in words fit for an error frame.
    /// </summary>
    public static bool IsValid(string? id, int maxLength, out string? problem)
    {
        if (string.IsNullOrEmpty(id))
        {
            problem = "peer id must be a non-empty string";
            return false;
        }

        if (id.Length > maxLength)
        {
            problem = $"peer id longer than {maxLength} characters";
            return false;
        }

        if (RelayLookalikes.IsRelayLike(id))
        {
            problem = "peer id 'relay' is reserved";
            return false;
        }

        foreach (var c in id)
        {
            if (char.IsControl(c))
            {
                problem = "peer id must not contain control characters";
                return false;
            }
        }

        problem = null;
        return true;
    }
}

namespace Relay.Protocol;

/// <summary>The decision logic of protocol.md "Direct addressing", independent of transport.</summary>
public static class DirectAddressing
{
    /// <summary>
    /// Resolves <paramref name="to"/> (and <paramref name="targetInstanceId"/>), never to the sender's own
    /// connections: (1) an online peer id; (2) else <paramref name="targetInstanceId"/> if it is an online
    /// peer id; (3) else, if the sender's own latest presence lists <paramref name="to"/>, a local
    /// conversation; (4) else the one connection of another peer listing the agent, or ambiguous/unknown.
    /// </summary>
    /// <param name="scratch">Reusable list for the directory lookup; cleared before and after use.</param>
    public static DirectResolution<TConnection> Resolve<TConnection>(
        IAgentDirectory<TConnection> directory,
        string senderPeerId,
        IReadOnlyList<string>? senderAgents,
        string? to,
        string? targetInstanceId,
        List<AgentListing<TConnection>> scratch)
        where TConnection : class
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(scratch);

        if (string.IsNullOrEmpty(to))
        {
            return new(DirectRoute.Unknown, null, null, null);
        }

        if (!IsSender(to, senderPeerId) && directory.IsOnlinePeer(to))
        {
            return new(DirectRoute.Peer, to, null, null);
        }

        if (!string.IsNullOrEmpty(targetInstanceId) && !IsSender(targetInstanceId, senderPeerId) && directory.IsOnlinePeer(targetInstanceId))
        {
            return new(DirectRoute.Peer, targetInstanceId, null, null);
        }

        if (senderAgents is not null)
        {
            for (var i = 0; i < senderAgents.Count; i++)
            {
                if (string.Equals(senderAgents[i], to, StringComparison.Ordinal))
                {
                    return new(DirectRoute.LocalConversation, null, null, null);
                }
            }
        }

        scratch.Clear();
        try
        {
            directory.FindAgentListings(to, scratch);
            return FromListings(senderPeerId, scratch);
        }
        finally
        {
            // Do not keep connections reachable from a long-lived scratch list.
            scratch.Clear();
        }
    }

    private static DirectResolution<TConnection> FromListings<TConnection>(string senderPeerId, List<AgentListing<TConnection>> listings)
        where TConnection : class
    {
        var single = -1;
        var several = false;
        for (var i = 0; i < listings.Count; i++)
        {
            var listing = listings[i];
            if (IsSender(listing.PeerId, senderPeerId))
            {
                continue;
            }

            if (single < 0)
            {
                single = i;
            }
            else if (!ReferenceEquals(listings[single].Connection, listing.Connection))
            {
                several = true;
                break;
            }
        }

        if (single < 0)
        {
            return new(DirectRoute.Unknown, null, null, null);
        }

        if (!several)
        {
            return new(DirectRoute.AgentConnection, listings[single].PeerId, listings[single].Connection, null);
        }

        return new(DirectRoute.Ambiguous, null, null, Candidates(senderPeerId, listings));
    }

    private static string[] Candidates<TConnection>(string senderPeerId, List<AgentListing<TConnection>> listings)
    {
        var ids = new List<string>(listings.Count);
        for (var i = 0; i < listings.Count; i++)
        {
            if (!IsSender(listings[i].PeerId, senderPeerId))
            {
                ids.Add(listings[i].PeerId);
            }
        }

        ids.Sort(StringComparer.Ordinal);
        var distinct = 0;
        for (var i = 0; i < ids.Count; i++)
        {
            if (distinct == 0 || !string.Equals(ids[distinct - 1], ids[i], StringComparison.Ordinal))
            {
                ids[distinct++] = ids[i];
            }
        }

        ids.RemoveRange(distinct, ids.Count - distinct);
        return [.. ids];
    }

    private static bool IsSender(string peerId, string senderPeerId) => string.Equals(peerId, senderPeerId, StringComparison.Ordinal);
}

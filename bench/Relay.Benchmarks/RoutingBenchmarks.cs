using BenchmarkDotNet.Attributes;
using Relay.Protocol;

namespace Relay.Benchmarks;

/// <summary>The routing decisions taken per frame: <see cref="DirectAddressing"/> (peer id, agent name) and
/// <see cref="EchoFilter"/> (recording a broadcast delivery, checking a sender's frame).</summary>
[MemoryDiagnoser]
public class RoutingBenchmarks
{
    private readonly Directory _mesh = new(peers: 50, agentsPerPeer: 2);
    private readonly List<AgentListing<Member>> _scratch = [];
    private readonly EchoFilter _echo = new(capacity: 128, windowTicks: 10_000_000);
    private long _now;

    [Benchmark]
    public DirectRoute Direct_to_a_peer_id() =>
        DirectAddressing.Resolve(_mesh, "peer-16", null, "peer-17", null, _scratch).Route;

    [Benchmark]
    public DirectRoute Direct_to_an_agent() =>
        DirectAddressing.Resolve(_mesh, "peer-16", null, "agent-17-1", null, _scratch).Route;

    [Benchmark]
    public bool Echo_record_then_check()
    {
        _now++;
        _echo.RecordDelivered((ulong)_now, _now);
        return _echo.IsEcho(0xDEADBEEF, _now);
    }

    /// <summary>A registered connection as the gateway's mesh view holds it: peer id and listed agents.</summary>
    public sealed class Member(string peerId, string[] agents)
    {
        public string PeerId { get; } = peerId;

        public string[] Agents { get; } = agents;
    }

    /// <summary>The mesh view's lookups: peers by id, agent listings by a scan of the members (as MeshView does).</summary>
    private sealed class Directory : IAgentDirectory<Member>
    {
        private readonly Dictionary<string, Member> _peers = new(StringComparer.Ordinal);
        private readonly Member[] _members;

        public Directory(int peers, int agentsPerPeer)
        {
            _members = new Member[peers];
            for (var i = 0; i < peers; i++)
            {
                var id = $"peer-{i}";
                var agents = new string[agentsPerPeer];
                for (var a = 0; a < agentsPerPeer; a++) agents[a] = $"agent-{i}-{a}";
                _members[i] = new Member(id, agents);
                _peers[id] = _members[i];
            }
        }

        public bool IsOnlinePeer(string peerId) => _peers.ContainsKey(peerId);

        public void FindAgentListings(string agent, List<AgentListing<Member>> into)
        {
            foreach (var member in _members)
            {
                if (Array.IndexOf(member.Agents, agent) >= 0) into.Add(new AgentListing<Member>(member.PeerId, member));
            }
        }
    }
}

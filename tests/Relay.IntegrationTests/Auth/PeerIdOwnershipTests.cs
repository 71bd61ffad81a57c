using Microsoft.Extensions.DependencyInjection;
using Orleans.Concurrency;
using Relay.Gateway.Authentication;
using Relay.Grains.Contracts;
using Relay.Protocol;
using Relay.IntegrationTests.Infrastructure;
using Xunit;

namespace Relay.IntegrationTests.Auth;

/// <summary>A peer id online under one principal cannot be taken by another, on one node and across nodes (the peer
/// grain decides); the live peer is unaffected. The same principal may open several connections (tabs).</summary>
public class PeerIdOwnershipTests(AuthFixture fixture) : IClassFixture<AuthFixture>
{
    [Fact]
    public async Task Another_principal_is_refused_a_live_peer_id_and_the_live_peer_is_unaffected()
    {
        var mesh = AuthFixture.NewMesh();
        var (peer, bob) = (AuthFixture.NewPeer("shared"), AuthFixture.NewPeer("bob"));
        await using var owner = await fixture.JoinAsync(mesh, peer, new TokenSpec { Subject = "alice" });
        await using var b = await fixture.JoinAsync(mesh, bob, new TokenSpec { Subject = "bob" });
        await owner.SkipToAsync(f => Frame.Type(f) == "presence" && f.GetProperty("from").GetString() == bob);

        await using var mallory = await TestPeer.ConnectWithTokenAsync(fixture.MeshUri(mesh), fixture.Issuer.Token(new TokenSpec { Subject = "mallory" }));
        var error = await mallory.RegisterAsAsync(peer);
        Assert.NotNull(error);
        Assert.Equal(ErrorCodes.PeerIdTaken, Frame.ErrorCode(error.Value));
        Assert.DoesNotContain("mallory", error.Value.GetRawText(), StringComparison.Ordinal);

        // Same client id, another subject: still another principal.
        await using var other = await TestPeer.ConnectWithTokenAsync(fixture.MeshUri(mesh), fixture.Issuer.Token(new TokenSpec { Subject = "alice2" }));
        Assert.Equal(ErrorCodes.PeerIdTaken, Frame.ErrorCode((await other.RegisterAsAsync(peer))!.Value));

        // The refused connection is not in the mesh: its frames are refused, nothing of it reached anybody.
        await mallory.SendAsync(new { type = "broadcast", from = peer, data = new { text = "spoof" } });
        Assert.Equal(ErrorCodes.NotRegistered, Frame.ErrorCode(await mallory.SkipToAsync(f => Frame.Type(f) == "error")));
        await mallory.DisposeAsync();
        await other.DisposeAsync();

        // The owner still gets frames addressed to it, and nobody heard of an offline or a second presence.
        await b.SendAsync(new { type = "direct", from = bob, to = peer, data = new { text = "still you?" } });
        await owner.SkipToAsync(f => Frame.Type(f) == "direct");
        await b.SendAsync(new { type = "broadcast", from = bob, data = new { text = "barrier" } });
        await owner.SkipToAsync(f => Frame.Type(f) == "broadcast");
        await b.SkipToSyncAsync();
        Assert.DoesNotContain(b.Drain(), f => Frame.Type(f) == "presence" || Frame.Type(f) == "broadcast");
    }

    [Fact]
    public async Task The_same_principal_may_open_several_connections()
    {
        var mesh = AuthFixture.NewMesh();
        var peer = AuthFixture.NewPeer("tabs");
        await using var first = await fixture.JoinAsync(mesh, peer);
        await using var second = await TestPeer.ConnectAsync(fixture.MeshUri(mesh));
        await second.AuthAsync(fixture.Issuer.Token()); // same sub and client, another token and another way in
        Assert.Null(await second.RegisterAsAsync(peer));
    }

    [Fact]
    public async Task Once_the_owner_left_and_the_grace_ran_out_another_principal_may_take_the_id()
    {
        var mesh = AuthFixture.NewMesh();
        var peer = AuthFixture.NewPeer("reused");
        await using var observer = await fixture.JoinAsync(mesh, AuthFixture.NewPeer("observer"), new TokenSpec { Subject = "observer" });
        var owner = await fixture.JoinAsync(mesh, peer, new TokenSpec { Subject = "alice" });
        await owner.DisposeAsync();
        await observer.SkipToAsync(f => Frame.Type(f) == "presence" && f.GetProperty("from").GetString() == peer
            && f.GetProperty("data").TryGetProperty("status", out var status) && status.GetString() == "offline");
        var offlineAt = DateTime.UtcNow;

        await using var next = await TestPeer.ConnectWithTokenAsync(fixture.MeshUri(mesh), fixture.Issuer.Token(new TokenSpec { Subject = "carol" }));
        // Within the grace the id is still the owner's.
        var early = await next.RegisterAsAsync(peer);
        if (DateTime.UtcNow - offlineAt < AuthFixture.PeerIdGracePeriod) Assert.Equal(ErrorCodes.PeerIdTaken, Frame.ErrorCode(early!.Value));
        // Then it is free: poll (bounded) until it is.
        var deadline = DateTime.UtcNow + AuthFixture.PeerIdGracePeriod + TestPeer.DefaultTimeout;
        while (await next.RegisterAsAsync(peer) is { } error)
        {
            Assert.Equal(ErrorCodes.PeerIdTaken, Frame.ErrorCode(error));
            Assert.True(DateTime.UtcNow < deadline, "the id was never released");
            await Task.Delay(400); // within the error rate limit, so that no refusal goes unsaid
        }
        await next.SendAsync(new { type = "broadcast", from = peer, data = new { text = "mine now" } });
        var frame = await observer.SkipToAsync(f => Frame.Type(f) == "broadcast");
        Assert.Equal(peer, frame.GetProperty("sender").GetString());
    }

    [Fact]
    public async Task Across_nodes_the_peer_grain_refuses_another_principal()
    {
        var mesh = AuthFixture.NewMesh();
        var grains = fixture.Relay.Services.GetRequiredService<IGrainFactory>();

        // A peer online on another node (a connection of gateway "node-2") under carol.
        var remote = AuthFixture.NewPeer("remote");
        var carol = Principal("carol");
        var grain = grains.GetGrain<IPeerGrain>(GrainKeys.Peer(mesh, remote));
        var key = new ConnectionKey("node-2", 1);
        var join = await grain.Connect(new MemberConnection(key, null), new Immutable<byte[]>("{}"u8.ToArray()), Now(), carol.Key);
        Assert.False(join.Refused);

        // This node's client under alice cannot take it.
        await using var alice = await TestPeer.ConnectWithTokenAsync(fixture.MeshUri(mesh), fixture.Issuer.Token(new TokenSpec { Subject = "alice" }));
        Assert.Equal(ErrorCodes.PeerIdTaken, Frame.ErrorCode((await alice.RegisterAsAsync(remote))!.Value));
        Assert.Equal([key], await grain.GetConnections());

        // And the other way round: a peer online here under alice cannot be taken from node-2 by carol.
        var local = AuthFixture.NewPeer("local");
        Assert.Null(await alice.RegisterAsAsync(local));
        var localGrain = grains.GetGrain<IPeerGrain>(GrainKeys.Peer(mesh, local));
        var refused = await localGrain.Connect(new MemberConnection(new ConnectionKey("node-2", 2), null), new Immutable<byte[]>("{}"u8.ToArray()), Now(), carol.Key);
        Assert.True(refused.Refused);
        Assert.Single(await localGrain.GetConnections());

        Assert.True((await grain.Disconnect(key)).WentOffline);
    }

    private ConnectionPrincipal Principal(string subject) =>
        new(fixture.Issuer.Issuer, subject, "relay-client", DateTimeOffset.UtcNow.AddHours(1), mesh: null);

    private static double Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
}

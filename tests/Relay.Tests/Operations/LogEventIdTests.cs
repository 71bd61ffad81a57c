using System.Reflection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Relay.Tests.Operations;

/// <summary>Operators filter and alert on event ids: each one must name exactly one event.</summary>
public class LogEventIdTests
{
    [Fact]
    public void Every_log_event_has_its_own_id()
    {
        Assembly[] relay =
        [
            typeof(Relay.Gateway.Routing.GatewayIdentity).Assembly,
            typeof(Relay.Grains.LivenessOptions).Assembly,
            typeof(Relay.Silo.Hosting.RelaySiloBuilderExtensions).Assembly,
        ];
        var events = relay
            .SelectMany(a => a.GetTypes())
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(e => e.Attribute is not null)
            .Select(e => (Id: e.Attribute!.EventId, Name: $"{e.Method.DeclaringType!.FullName}.{e.Method.Name}"))
            .ToList();

        Assert.True(events.Count > 20, $"found only {events.Count} [LoggerMessage] methods: is the scan broken?");
        var shared = events.GroupBy(e => e.Id).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(e => e.Name))}").ToList();
        Assert.True(shared.Count == 0, "event ids used by more than one event:\n" + string.Join("\n", shared));
    }
}

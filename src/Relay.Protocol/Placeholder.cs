namespace Relay.Protocol; internal static class Placeholder { }

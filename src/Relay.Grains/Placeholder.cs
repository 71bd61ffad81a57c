namespace Relay.Grains; internal static class Placeholder { }

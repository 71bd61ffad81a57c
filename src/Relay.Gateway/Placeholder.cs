namespace Relay.Gateway; internal static class Placeholder { }

namespace Relay.Tests; public class Smoke { [Xunit.Fact] public void Works() => Xunit.Assert.True(true); }

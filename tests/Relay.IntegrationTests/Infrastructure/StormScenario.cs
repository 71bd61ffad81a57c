namespace Relay.IntegrationTests.Infrastructure;

/// <summary>What one peer id goes through during a connection storm (<see cref="ConnectionStorm"/>).</summary>
public enum StormScenario
{
    /// <summary>Registers and stays.</summary>
    Stays,

    /// <summary>Registers, then closes.</summary>
    Leaves,

    /// <summary>Registers, then drops the transport (no close handshake).</summary>
    Aborts,

    /// <summary>Registers; then a second connection registers the same id while the first closes.</summary>
    TakeoverRacingClose,

    /// <summary>Registers; then a second connection registers the same id while the first is aborted.</summary>
    TakeoverRacingAbort,

    /// <summary>Two connections register the id, then both close at once.</summary>
    BothTabsClose,

    /// <summary>Two connections register the id, then one closes.</summary>
    OneTabCloses,

    /// <summary>Sends its presence and closes at once, without waiting: it may or may not have registered.</summary>
    PresenceThenClose,

    /// <summary>Connects and closes without a presence: nobody hears of it.</summary>
    NeverRegisters,
}

namespace Relay.Chaos;

/// <summary>
/// One place in a mesh, held by one peer at a time: when the peer's socket dies the slot reconnects after a pause,
/// either as the same peer (same id) or as a newcomer (a new id; the old one has left for good and its offline is
/// due). Every connection the slot ever had is kept for the checker.
/// </summary>
internal sealed class MeshSlot(int mesh, int index, string run)
{
    private int _generation;

    public int Mesh { get; } = mesh;
    public int Index { get; } = index;
    public string MeshName { get; } = $"chaos-{run}-{mesh}";
    public string PeerId { get; private set; } = $"p{mesh}-{index}-0-{run}";
    public List<ChaosConnection> Connections { get; } = [];

    /// <summary>Ids this slot held that left for good, with the connection each was last seen on.</summary>
    public List<ChaosConnection> Departed { get; } = [];

    public ChaosConnection? Current => Connections.Count > 0 && Connections[^1].IsOpen ? Connections[^1] : null;

    public void TakeNewId(string run)
    {
        Departed.Add(Connections[^1]);
        PeerId = $"p{Mesh}-{Index}-{++_generation}-{run}";
    }
}

using System.Text.Json;

namespace Relay.Protocol;

/// <summary>
/// Collects <c>data.agents</c> of a presence while the parser walks <c>data</c>: string items, and the
/// <c>name</c> string of object items (some clients list agent objects); other items are ignored.
/// </summary>
internal struct AgentCollector
{
    // Depths relative to the data object at depth D: its properties and the agents array at D+1,
    // items at D+2, properties of an item object at D+3.
    private readonly int _dataDepth;
    private readonly bool _enabled;
    private List<string>? _agents;
    private bool _present;
    private bool _nextIsAgents;
    private bool _inAgents;
    private bool _inItem;
    private bool _nextIsName;
    private string? _itemName;

    public AgentCollector(int dataDepth, bool enabled)
    {
        _dataDepth = dataDepth;
        _enabled = enabled;
    }

    public void Observe(ref Utf8JsonReader reader)
    {
        if (!_enabled)
        {
            return;
        }

        var depth = reader.CurrentDepth - _dataDepth;
        var token = reader.TokenType;
        if (token == JsonTokenType.PropertyName)
        {
            if (depth == 1)
            {
                _nextIsAgents = JsonText.TextEquals(ref reader, "agents"u8);
            }
            else if (_inItem && depth == 3)
            {
                _nextIsName = JsonText.TextEquals(ref reader, "name"u8);
            }

            return;
        }

        if (_nextIsAgents)
        {
            // Last "agents" wins, as for every duplicate property.
            _nextIsAgents = false;
            _present = token == JsonTokenType.StartArray;
            _inAgents = _present;
            _agents?.Clear();
            return;
        }

        if (_nextIsName)
        {
            _nextIsName = false;
            if (token == JsonTokenType.String)
            {
                _itemName = JsonText.TryGetString(ref reader);
            }

            return;
        }

        if (!_inAgents)
        {
            return;
        }

        switch (token)
        {
            case JsonTokenType.String when depth == 2:
                Add(JsonText.TryGetString(ref reader));
                break;
            case JsonTokenType.StartObject when depth == 2:
                _inItem = true;
                _itemName = null;
                break;
            case JsonTokenType.EndObject when depth == 2:
                _inItem = false;
                Add(_itemName);
                break;
            case JsonTokenType.EndArray when depth == 1:
                _inAgents = false;
                break;
            default:
                break;
        }
    }

    /// <summary>The agents found; null when data has no <c>agents</c> array.</summary>
    public readonly string[]? Result() => !_present ? null : _agents is null ? [] : [.. _agents];

    private void Add(string? agent)
    {
        if (agent is not null)
        {
            (_agents ??= []).Add(agent);
        }
    }
}

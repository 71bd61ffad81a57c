using System.Globalization;

namespace Relay.IntegrationTests.Infrastructure;

/// <summary>Reads samples out of a Prometheus text scrape (<c>/metrics</c>).</summary>
public static class PrometheusText
{
    /// <summary>Sum of the samples of <paramref name="metric"/> (any labels), or null when absent.</summary>
    public static double? Sum(string text, string metric)
    {
        double? sum = null;
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith(metric, StringComparison.Ordinal)) continue;
            var rest = line[metric.Length..];
            if (rest.Length == 0 || (rest[0] != ' ' && rest[0] != '{')) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // "name{labels} value [timestamp]"
            var valueIndex = Array.FindIndex(parts, p => p.EndsWith('}') || p == metric) + 1;
            if (valueIndex <= 0 || valueIndex >= parts.Length) continue;
            if (double.TryParse(parts[valueIndex], NumberStyles.Float, CultureInfo.InvariantCulture, out var value)) sum = (sum ?? 0) + value;
        }
        return sum;
    }
}

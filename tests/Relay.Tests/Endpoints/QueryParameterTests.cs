using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Relay.Gateway.Shared;
using Xunit;

namespace Relay.Tests.Endpoints;

/// <summary>A parameter read from the raw query string is the one <c>Request.Query[name].FirstOrDefault()</c> gives.</summary>
public sealed class QueryParameterTests
{
    [Theory]
    [InlineData("?mesh=team", "mesh")]
    [InlineData("?MESH=team", "mesh")]
    [InlineData("?a=1&mesh=first&mesh=second", "mesh")]
    [InlineData("?mesh=%74e%61m&access_token=a+b%2Bc", "access_token")]
    [InlineData("?m%65sh=team", "mesh")]
    [InlineData("?mesh=", "mesh")]
    [InlineData("?mesh", "mesh")]
    [InlineData("?other=1", "mesh")]
    [InlineData("", "mesh")]
    public void Reads_what_the_parsed_query_reads(string query, string name)
    {
        var parsed = new QueryCollection(QueryHelpers.ParseQuery(query));
        StringValues values = parsed[name];

        Assert.Equal(values.FirstOrDefault(), QueryParameter.First(new QueryString(query.Length == 0 ? null : query), name));
    }
}

// Types that use namespace Target each in one way, for GatewayLayersTests' check of the scanner itself. Each namespace
// is a "folder" of its own; nothing calls these types.
#pragma warning disable CS0649, CA1822, CA1812, CA1852, CA1034, CA1040, CA1051, CA1000, CA1018, CA1813

namespace Relay.Tests.Architecture
{
    internal static class ScannerSamples
    {
        public const string Prefix = "Relay.Tests.Architecture.Samples.";

        /// <summary>The namespaces below that use Target.</summary>
        public static readonly string[] Users =
        [
            "BaseType", "Interface", "Field", "GenericArgument", "Parameter", "Property", "Attribute",
            "BodyCall", "BodyNew", "BodyStaticField", "BodyTypeOf", "BodyCast", "Lambda", "Async",
        ];
    }
}

namespace Relay.Tests.Architecture.Samples.Target
{
    internal class Thing
    {
        public static int Count;
    }

    internal interface IThing;

    internal sealed class MarkerAttribute : System.Attribute;

    internal static class Helper
    {
        public static int Do() => 1;

        public static Task DoAsync() => Task.CompletedTask;
    }
}

namespace Relay.Tests.Architecture.Samples.BaseType
{
    internal sealed class User : Target.Thing;
}

namespace Relay.Tests.Architecture.Samples.Interface
{
    internal sealed class User : Target.IThing;
}

namespace Relay.Tests.Architecture.Samples.Field
{
    internal sealed class User
    {
        public Target.Thing? Value;
    }
}

namespace Relay.Tests.Architecture.Samples.GenericArgument
{
    internal sealed class User
    {
        public List<Target.Thing>? Values;
    }
}

namespace Relay.Tests.Architecture.Samples.Parameter
{
    internal sealed class User
    {
        public int Use(object? thing) => thing is null ? 0 : 1;

        public int Use(Target.Thing? thing) => thing is null ? 0 : 2;
    }
}

namespace Relay.Tests.Architecture.Samples.Property
{
    internal abstract class User
    {
        public abstract Target.IThing? Value { get; }
    }
}

namespace Relay.Tests.Architecture.Samples.Attribute
{
    [Target.Marker]
    internal sealed class User;
}

namespace Relay.Tests.Architecture.Samples.BodyCall
{
    internal sealed class User
    {
        public int Run() => Target.Helper.Do();
    }
}

namespace Relay.Tests.Architecture.Samples.BodyNew
{
    internal sealed class User
    {
        public object Run() => new Target.Thing();
    }
}

namespace Relay.Tests.Architecture.Samples.BodyStaticField
{
    internal sealed class User
    {
        public int Run() => Target.Thing.Count;
    }
}

namespace Relay.Tests.Architecture.Samples.BodyTypeOf
{
    internal sealed class User
    {
        public Type Run() => typeof(Target.IThing);
    }
}

namespace Relay.Tests.Architecture.Samples.BodyCast
{
    internal sealed class User
    {
        public bool Run(object value) => value is Target.IThing;
    }
}

namespace Relay.Tests.Architecture.Samples.Lambda
{
    internal sealed class User
    {
        public Func<int> Run() => () => Target.Helper.Do();
    }
}

namespace Relay.Tests.Architecture.Samples.Async
{
    internal sealed class User
    {
        public async Task RunAsync()
        {
            await Task.Yield();
            await Target.Helper.DoAsync();
        }
    }
}

namespace Relay.Tests.Architecture.Samples.CycleA
{
    internal sealed class User
    {
        public CycleB.User? Other;
    }
}

namespace Relay.Tests.Architecture.Samples.CycleB
{
    internal sealed class User
    {
        public int Run() => new CycleA.User().GetHashCode();
    }
}

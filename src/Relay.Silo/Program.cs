using Relay.Gateway.Hosting;
using Relay.Silo.Hosting;

if (RelayHelp.TryWrite(args, Console.Out, "Relay.Silo")) return 0;
await RelayHost.Build(args).RunAsync();
return 0;

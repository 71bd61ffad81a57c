using Relay.Gateway.Hosting;

if (RelayHelp.TryWrite(args, Console.Out, "Relay.Gateway")) return 0;
await GatewayHost.Build(args).RunAsync();
return 0;

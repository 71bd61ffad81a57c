using Relay.Silo.Hosting;

await RelayHost.Build(args).RunAsync();

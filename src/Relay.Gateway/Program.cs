using Relay.Gateway.Hosting;

await GatewayHost.Build(args).RunAsync();

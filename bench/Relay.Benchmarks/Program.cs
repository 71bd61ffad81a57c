using BenchmarkDotNet.Running;
using Relay.Benchmarks;

// bench/run-benchmarks.sh runs every benchmark; pass BenchmarkDotNet options through, e.g. --filter '*Stamp*'.
BenchmarkSwitcher.FromAssembly(typeof(Frames).Assembly).Run(args);

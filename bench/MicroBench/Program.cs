// Micro benchmarks of the transport's hot data structures: dotnet run -c Release --project bench/MicroBench [-- --filter '*']
using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

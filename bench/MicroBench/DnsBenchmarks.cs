using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using MNet.Transport.Dns;

namespace MicroBench;

/// <summary>
/// The resolver's two hot paths: a lookup answered from the cache (which must not allocate) and reading a typical
/// reply (a CNAME to a host with two addresses, names compressed, an SOA in the authority section).
/// </summary>
[MemoryDiagnoser]
public class DnsBenchmarks : IDisposable
{
    private const ushort Id = 0x1234;
    private readonly DnsResolver _resolver = new(new DnsResolverOptions { HostsFilePath = null });
    private readonly byte[] _reply = BuildReply();

    [GlobalSetup]
    public void Setup()
        => _resolver.Cache.Add("www.example.test", AddressFamily.Unspecified, DnsCacheEntry.Found([IPAddress.Loopback], TimeSpan.FromHours(1)));

    [Benchmark(Description = "cached lookup")]
    public int CachedLookup() => CountOf(_resolver.GetHostAddressesAsync("www.example.test"));

    [Benchmark(Description = "parse reply")]
    public int ParseReply() => DnsReply.Parse(_reply, Id, "www.example.test", DnsRecordType.A)!.Addresses.Count;

    public void Dispose()
    {
        _resolver.Dispose();
        GC.SuppressFinalize(this);
    }

    private static int CountOf(ValueTask<IReadOnlyList<IPAddress>> lookup)
        => lookup.IsCompletedSuccessfully ? lookup.Result.Count : throw new InvalidOperationException("The lookup was not answered from the cache.");

    private static byte[] BuildReply()
    {
        byte[] name = [3, .. "www"u8, 7, .. "example"u8, 4, .. "test"u8, 0];
        byte[] soa = [0xC0, 16, 0xC0, 16, .. new byte[20]];
        return
        [
            0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 1, 0, 0,
            .. name, 0, 1, 0, 1,
            0xC0, 12, 0, 5, 0, 1, 0, 0, 1, 44, 0, 7, 4, .. "host"u8, 0xC0, 16, // www -> host.example.test
            0xC0, 46, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1,
            0xC0, 46, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 2,
            0xC0, 16, 0, 6, 0, 1, 0, 0, 1, 44, 0, (byte)soa.Length, .. soa,
        ];
    }
}

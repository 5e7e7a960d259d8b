using System.Net;
using System.Net.Sockets;
using MNet.Transport.Dns;
using MNet.Transport.Hosting;
using MNet.Transport.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace MNet.Transport.Tests.Dns;

/// <summary>The resolver against a real DNS server on loopback that a test can make slow, silent, truncating or hostile.</summary>
public sealed class DnsResolverTests : IAsyncDisposable
{
    private TransportRuntime? _runtime;
    private readonly ManualClock _clock = new();
    private readonly FakeDnsServer _server = FakeDnsServer.Start();

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        if (_runtime is not null)
        {
            await _runtime.DisposeAsync();
        }
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task AAndAaaaAndBoth_ComeBackAsTheServerSaid_IPv4First(MNetBackend backend)
    {
        _server.Zone.AddA("both.test", "192.0.2.1").AddA("both.test", "192.0.2.2").AddAaaa("both.test", "2001:db8::1");
        DnsResolver resolver = CreateResolver(backend);

        Assert.Equal(Addresses("192.0.2.1", "192.0.2.2"), await resolver.GetHostAddressesAsync("both.test", AddressFamily.InterNetwork));
        Assert.Equal(Addresses("2001:db8::1"), await resolver.GetHostAddressesAsync("both.test", AddressFamily.InterNetworkV6));
        Assert.Equal(Addresses("192.0.2.1", "192.0.2.2", "2001:db8::1"), await resolver.GetHostAddressesAsync("both.test"));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ACNameChain_IsFollowed_InOneReplyOrByAskingForTheTarget(MNetBackend backend)
    {
        _server.Zone.AddCName("www.test", "edge.test").AddCName("edge.test", "host.test").AddA("host.test", "192.0.2.3");
        DnsResolver resolver = CreateResolver(backend);

        Assert.Equal(Addresses("192.0.2.3"), await resolver.GetHostAddressesAsync("www.test", AddressFamily.InterNetwork));

        // A server that answers with the alias alone: the resolver asks again for where it points.
        _server.UdpReplies = query => query.Name == "alias-only.test"
            ? [new DnsWire(query.Id, DnsWire.ResponseFlags, query.Name, query.Type).Answer(query.Name, DnsWire.CName, 60, DnsWire.EncodeName("host.test")).Build()]
            : [_server.Zone.Answer(query)];
        Assert.Equal(Addresses("192.0.2.3"), await resolver.GetHostAddressesAsync("alias-only.test", AddressFamily.InterNetwork));
        Assert.Contains(_server.Queries, q => q.Name == "host.test");
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task NxDomain_IsCachedForTheSoaMinimum_ThenAskedAgain(MNetBackend backend)
    {
        _server.Zone.NegativeTtl = 30;
        DnsResolver resolver = CreateResolver(backend);

        SocketException error = await Assert.ThrowsAsync<SocketException>(async () => await resolver.GetHostAddressesAsync("nowhere.test", AddressFamily.InterNetwork));
        Assert.Equal(SocketError.HostNotFound, error.SocketErrorCode);
        Assert.Contains("nowhere.test", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, _server.UdpQueryCount);

        _clock.Advance(TimeSpan.FromSeconds(29));
        await Assert.ThrowsAsync<SocketException>(async () => await resolver.GetHostAddressesAsync("nowhere.test", AddressFamily.InterNetwork));
        Assert.Equal(1, _server.UdpQueryCount);

        _clock.Advance(TimeSpan.FromSeconds(1));
        _server.Zone.AddA("nowhere.test", "192.0.2.4");
        Assert.Equal(Addresses("192.0.2.4"), await resolver.GetHostAddressesAsync("nowhere.test", AddressFamily.InterNetwork));
        Assert.Equal(2, _server.UdpQueryCount);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task NoData_FailsWithNoData_AndIsCachedToo(MNetBackend backend)
    {
        _server.Zone.AddA("v4only.test", "192.0.2.5");
        DnsResolver resolver = CreateResolver(backend);

        SocketException error = await Assert.ThrowsAsync<SocketException>(async () => await resolver.GetHostAddressesAsync("v4only.test", AddressFamily.InterNetworkV6));
        Assert.Equal(SocketError.NoData, error.SocketErrorCode);
        await Assert.ThrowsAsync<SocketException>(async () => await resolver.GetHostAddressesAsync("v4only.test", AddressFamily.InterNetworkV6));
        Assert.Equal(1, _server.UdpQueryCount);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task AnAnswer_IsServedFromTheCacheUntilItsTtlRunsOut(MNetBackend backend)
    {
        _server.Zone.AddA("short.test", "192.0.2.6", ttl: 10);
        DnsResolver resolver = CreateResolver(backend);

        await resolver.GetHostAddressesAsync("short.test", AddressFamily.InterNetwork);
        _clock.Advance(TimeSpan.FromSeconds(9));
        await resolver.GetHostAddressesAsync("SHORT.test", AddressFamily.InterNetwork); // names are not case-sensitive
        Assert.Equal(1, _server.UdpQueryCount);

        _clock.Advance(TimeSpan.FromSeconds(1));
        await resolver.GetHostAddressesAsync("short.test", AddressFamily.InterNetwork);
        Assert.Equal(2, _server.UdpQueryCount);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ACachedAnswer_ReturnsSynchronously_WithoutAllocating(MNetBackend backend)
    {
        _server.Zone.AddA("hot.test", "192.0.2.7");
        DnsResolver resolver = CreateResolver(backend);
        await resolver.GetHostAddressesAsync("hot.test", AddressFamily.InterNetwork);

        Assert.Equal(0, AllocatedByCachedLookups(resolver, "hot.test", 10_000));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ASilentServer_TimesOut_AndTheNextServerAnswers(MNetBackend backend)
    {
        await using FakeDnsServer second = FakeDnsServer.Start();
        second.Zone.AddA("retry.test", "192.0.2.8");
        _server.UdpReplies = _ => [];
        // Long enough for the second server's answer on a cold process (JIT, a first ring), or the resolver would ask
        // the silent one again.
        DnsResolver resolver = CreateResolver(backend, o => o.Timeout = TimeSpan.FromMilliseconds(1500), _server.EndPoint, second.EndPoint);

        Assert.Equal(Addresses("192.0.2.8"), await resolver.GetHostAddressesAsync("retry.test", AddressFamily.InterNetwork));
        Assert.Equal(1, _server.UdpQueryCount);
        Assert.Equal(1, second.UdpQueryCount);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task WhenNoServerAnswers_TheLookupFailsWithTryAgain_AfterEveryAttempt(MNetBackend backend)
    {
        _server.UdpReplies = _ => [];
        DnsResolver resolver = CreateResolver(backend, o =>
        {
            o.Timeout = TimeSpan.FromMilliseconds(100);
            o.Attempts = 3;
        });

        SocketException error = await Assert.ThrowsAsync<SocketException>(async () => await resolver.GetHostAddressesAsync("silent.test", AddressFamily.InterNetwork));
        Assert.Equal(SocketError.TryAgain, error.SocketErrorCode);
        Assert.Contains("did not answer", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, _server.UdpQueryCount);

        // A failure is not cached: the next lookup asks again.
        _server.UdpReplies = query => [_server.Zone.Answer(query)];
        _server.Zone.AddA("silent.test", "192.0.2.9");
        Assert.Equal(Addresses("192.0.2.9"), await resolver.GetHostAddressesAsync("silent.test", AddressFamily.InterNetwork));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task AClosedPort_PassesToTheNextServerOnTheIcmpError(MNetBackend backend)
    {
        using Socket closed = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        closed.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        IPEndPoint nobody = (IPEndPoint)closed.LocalEndPoint!;
        closed.Close();
        _server.Zone.AddA("refused.test", "192.0.2.10");
        DnsResolver resolver = CreateResolver(backend, o => o.Timeout = TimeSpan.FromSeconds(30), nobody, _server.EndPoint);

        Assert.Equal(Addresses("192.0.2.10"), await resolver.GetHostAddressesAsync("refused.test", AddressFamily.InterNetwork).AsTask().WaitAsync(TimeSpan.FromSeconds(20)));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ATruncatedReply_IsAskedAgainOverTcp(MNetBackend backend)
    {
        _server.Zone.AddA("big.test", "192.0.2.11");
        _server.UdpReplies = query => [new DnsWire(query.Id, DnsWire.ResponseFlags | DnsWire.Truncated, query.Name, query.Type).Build()];
        DnsResolver resolver = CreateResolver(backend);

        Assert.Equal(Addresses("192.0.2.11"), await resolver.GetHostAddressesAsync("big.test", AddressFamily.InterNetwork));
        Assert.Equal(1, _server.UdpQueryCount);
        Assert.Equal(1, _server.TcpQueryCount);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task RepliesWithAnotherIdOrFromAnotherSource_AreIgnored(MNetBackend backend)
    {
        _server.Zone.AddA("spoofed.test", "192.0.2.12");
        _server.ReplyDelay = TimeSpan.FromMilliseconds(50);
        _server.UdpReplies = query =>
        {
            byte[] forged = new DnsWire(query.Id, DnsWire.ResponseFlags, query.Name, query.Type).Answer(query.Name, DnsWire.A, 300, DnsWire.AddressData("203.0.113.66")).Build();
            FakeDnsServer.SendFromElsewhere(forged, query.From); // right id, wrong source
            byte[] wrongId = new DnsWire((ushort)(query.Id + 1), DnsWire.ResponseFlags, query.Name, query.Type).Answer(query.Name, DnsWire.A, 300, DnsWire.AddressData("203.0.113.67")).Build();
            return [wrongId, _server.Zone.Answer(query)];
        };
        using MetricCounter mismatched = new("mnet.dns.replies.dropped", "reason", "mismatched");
        DnsResolver resolver = CreateResolver(backend);

        Assert.Equal(Addresses("192.0.2.12"), await resolver.GetHostAddressesAsync("spoofed.test", AddressFamily.InterNetwork));
        Assert.True(mismatched.Total >= 1);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task MalformedReplies_AreDroppedAndCounted_AndTheGoodOneAfterThemIsTaken(MNetBackend backend)
    {
        _server.Zone.AddA("hostile.test", "192.0.2.13");
        _server.UdpReplies = query =>
        {
            byte[] loop = new DnsWire(query.Id, DnsWire.ResponseFlags, query.Name, query.Type).Answer([0xC0, 12 + 14 + 4], DnsWire.A, 300, [1, 2, 3, 4]).Build();
            byte[] random = new byte[64];
            new Random(query.Id).NextBytes(random);
            random[0] = (byte)(query.Id >> 8);
            random[1] = (byte)query.Id;
            random[2] |= 0x80;
            byte[] cut = _server.Zone.Answer(query)[..20];
            return [loop, random, cut, _server.Zone.Answer(query)];
        };
        using MetricCounter malformed = new("mnet.dns.replies.dropped", "reason", "malformed");
        DnsResolver resolver = CreateResolver(backend);

        Assert.Equal(Addresses("192.0.2.13"), await resolver.GetHostAddressesAsync("hostile.test", AddressFamily.InterNetwork));
        Assert.True(malformed.Total >= 3, $"{malformed.Total} malformed replies counted");
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task SearchDomains_AreTried_AsNdotsDirects(MNetBackend backend)
    {
        _server.Zone.AddA("www.corp.test", "192.0.2.14").AddA("a.b", "192.0.2.15").AddA("a.b.corp.test", "192.0.2.16");
        DnsResolver resolver = CreateResolver(backend, o =>
        {
            o.SearchDomains.Add("lab.test");
            o.SearchDomains.Add("corp.test");
        });

        // No dot: the search domains first, in order.
        Assert.Equal(Addresses("192.0.2.14"), await resolver.GetHostAddressesAsync("www", AddressFamily.InterNetwork));
        Assert.Equal(["www.lab.test", "www.corp.test"], _server.Queries.Select(q => q.Name));
        // ndots (1) dots: the name as given first.
        Assert.Equal(Addresses("192.0.2.15"), await resolver.GetHostAddressesAsync("a.b", AddressFamily.InterNetwork));
        // A trailing dot: only the name as given.
        await Assert.ThrowsAsync<SocketException>(async () => await resolver.GetHostAddressesAsync("www.", AddressFamily.InterNetwork));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task TheHostsFile_AndAddressLiterals_AreAnsweredWithoutAsking(MNetBackend backend)
    {
        string hosts = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(hosts, "192.0.2.17 pinned.test\n");
            DnsResolver resolver = CreateResolver(backend, o => o.HostsFilePath = hosts);

            Assert.Equal(Addresses("192.0.2.17"), await resolver.GetHostAddressesAsync("pinned.test"));
            Assert.Equal(Addresses("2001:db8::17"), await resolver.GetHostAddressesAsync("2001:db8::17"));
            Assert.Empty(_server.Queries);
        }
        finally
        {
            File.Delete(hosts);
        }
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ConcurrentLookupsOfOneName_ShareOneQuery(MNetBackend backend)
    {
        _server.Zone.AddA("popular.test", "192.0.2.18");
        _server.ReplyDelay = TimeSpan.FromMilliseconds(100);
        DnsResolver resolver = CreateResolver(backend);

        IReadOnlyList<IPAddress>[] results = await Task.WhenAll(
            Enumerable.Range(0, 20).Select(_ => resolver.GetHostAddressesAsync("popular.test", AddressFamily.InterNetwork).AsTask()));

        Assert.All(results, r => Assert.Equal(Addresses("192.0.2.18"), r));
        Assert.Equal(1, _server.UdpQueryCount);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Queries_ShareOneSocketPerServer_WithRandomIds_AndMoveToANewPortEvery256(MNetBackend backend)
    {
        const int names = 600;
        for (int i = 0; i < names; i++)
        {
            _server.Zone.AddA($"n{i}.test", "192.0.2.19");
        }
        DnsResolver resolver = CreateResolver(backend);

        // 32 at a time: a burst of all 600 would overflow the test server's socket buffer, and the lost queries would
        // be asked again from later sockets.
        IReadOnlyList<IPAddress>[] results = new IReadOnlyList<IPAddress>[names];
        await Parallel.ForAsync(0, names, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, cancellationToken) =>
            results[i] = await resolver.GetHostAddressesAsync($"n{i}.test", AddressFamily.InterNetwork, cancellationToken));

        Assert.All(results, r => Assert.Equal(Addresses("192.0.2.19"), r));
        IGrouping<int, FakeDnsQuery>[] ports = [.. _server.Queries.GroupBy(q => q.From.Port)];
        Assert.Equal([88, 256, 256], ports.Select(p => p.Count()).Order());
        // Random ids: among 256 draws from 65,536 a few may repeat (never two waiting at once), but not many.
        Assert.All(ports.Where(port => port.Count() == 256), port => Assert.InRange(port.Select(q => q.Id).Distinct().Count(), 240, 256));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Dispose_FailsTheLookupsWaiting_AndLaterCallsThrow(MNetBackend backend)
    {
        _server.UdpReplies = _ => [];
        DnsResolver resolver = CreateResolver(backend, o => o.Timeout = TimeSpan.FromSeconds(30));
        Task<IReadOnlyList<IPAddress>> waiting = resolver.GetHostAddressesAsync("silent.test", AddressFamily.InterNetwork).AsTask();
        await WaitForQueriesAsync(1);

        resolver.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Throws<ObjectDisposedException>(() => IsCachedAnswer(resolver.GetHostAddressesAsync("other.test")));
        Assert.Equal(1, _server.UdpQueryCount);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task BadArguments_FailAtOnce_WithoutAQuery(MNetBackend backend)
    {
        DnsResolver resolver = CreateResolver(backend);

        await Assert.ThrowsAsync<ArgumentException>(async () => await resolver.GetHostAddressesAsync("bad..name"));
        await Assert.ThrowsAsync<ArgumentException>(async () => await resolver.GetHostAddressesAsync("ok.test", AddressFamily.Unix));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await resolver.GetHostAddressesAsync(null!));
        Assert.Empty(_server.Queries);
    }

    private async Task WaitForQueriesAsync(int count)
    {
        for (int i = 0; i < 500 && _server.Queries.Count < count; i++)
        {
            await Task.Delay(10);
        }
        Assert.Equal(count, _server.Queries.Count);
    }

    /// <summary>A resolver on a one-loop runtime of <paramref name="backend"/>, the test's own.</summary>
    private DnsResolver CreateResolver(MNetBackend backend, Action<DnsResolverOptions>? configure = null, params IPEndPoint[] servers)
    {
        DnsResolverOptions options = new() { HostsFilePath = null };
        foreach (IPEndPoint server in servers.Length > 0 ? servers : [_server.EndPoint])
        {
            options.Servers.Add(server);
        }
        configure?.Invoke(options);
        _runtime ??= new TransportRuntime(new MNetTransportOptions { LoopCount = 1, Backend = backend }, NullLogger.Instance);
        return new DnsResolver(options, _runtime, _clock);
    }

    /// <summary>
    /// The fewest bytes any of three batches of <paramref name="count"/> lookups allocated, each of which must complete
    /// synchronously from the cache. A lookup that allocates shows in every batch; the runtime's one-off work (a method
    /// tiering up) in one at most.
    /// </summary>
    private static long AllocatedByCachedLookups(DnsResolver resolver, string name, int count)
    {
        long fewest = long.MaxValue;
        for (int batch = 0; batch < 3; batch++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < count; i++)
            {
                Assert.True(IsCachedAnswer(resolver.GetHostAddressesAsync(name, AddressFamily.InterNetwork)));
            }
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return fewest;
    }

    private static bool IsCachedAnswer(ValueTask<IReadOnlyList<IPAddress>> lookup) => lookup.IsCompletedSuccessfully && lookup.Result.Count > 0;

    private static IPAddress[] Addresses(params string[] addresses) => [.. addresses.Select(IPAddress.Parse)];
}

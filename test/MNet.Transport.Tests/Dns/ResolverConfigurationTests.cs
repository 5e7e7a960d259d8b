using System.Net;
using System.Net.Sockets;
using MNet.Transport.Dns;
using MNet.Transport.Tests.Infrastructure;

namespace MNet.Transport.Tests.Dns;

/// <summary>resolv.conf and hosts files read as the C library reads them, and option and name checks.</summary>
public sealed class ResolverConfigurationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("mnet-dns-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private const string SampleResolvConf = "# comment\nnameserver 192.0.2.53\nnameserver 2001:db8::53 ; c\nsearch corp.test lab.test\noptions ndots:2 timeout:3 attempts:2 rotate\n";
    private const string SampleHosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost # c\n192.0.2.7 build build.test\n";

    // Seeded mutations of real files (bytes flipped, text cut, lines repeated, junk and huge words inserted): the
    // parsers never throw, and what they keep is within resolv.conf's limits and passes the resolver's own checks.
    [Fact]
    public void Fuzz_MutatedConfigurationFiles_NeverThrow_AndWhatIsKeptIsValid()
    {
        Random random = new(2026);
        for (int i = 0; i < 20_000; i++)
        {
            string resolvConf = Mutate(SampleResolvConf, random);
            DnsResolverOptions options = new();
            ResolvConfParser.Parse(resolvConf, options);
            Assert.InRange(options.Servers.Count, 0, 3);
            Assert.InRange(options.Ndots, 0, 15);
            Assert.InRange(options.Timeout, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
            Assert.InRange(options.Attempts, 1, 5);
            options.Validate(); // throws if a kept search domain is not a host name

            string hosts = Mutate(SampleHosts, random);
            HostsFile file = HostsFile.Parse(hosts);
            foreach (string word in hosts.Split([' ', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries))
            {
                Assert.All(file.Find(word, AddressFamily.InterNetwork) ?? [], a => Assert.Equal(AddressFamily.InterNetwork, a.AddressFamily));
                Assert.All(file.Find(word, AddressFamily.InterNetworkV6) ?? [], a => Assert.Equal(AddressFamily.InterNetworkV6, a.AddressFamily));
            }
        }
    }

    private static string Mutate(string text, Random random)
        => TextMutator.Mutate(text, random, [.. text.Split('\n').Select(line => line + "\n"), "ndots:", "timeout:-", "attempts:99999999999 "]);

    [Fact]
    public void ResolvConf_GivesServersSearchAndOptions_WithTheCLibrarysLimits()
    {
        string path = Write("resolv.conf", """
            # comment
            nameserver 192.0.2.53
            nameserver 2001:db8::53 ; trailing comment
            nameserver not-an-address
            domain first.test
            search corp.test lab.test
            nameserver 192.0.2.54
            nameserver 192.0.2.55
            options ndots:20 timeout:90 attempts:3 rotate unknown-option
            options attempts:oops
            """);

        DnsResolverOptions options = DnsResolverOptions.FromResolvConf(path);

        Assert.Equal(
            [new IPEndPoint(IPAddress.Parse("192.0.2.53"), 53), new IPEndPoint(IPAddress.Parse("2001:db8::53"), 53), new IPEndPoint(IPAddress.Parse("192.0.2.54"), 53)],
            options.Servers);
        Assert.Equal(["corp.test", "lab.test"], options.SearchDomains); // the last of domain/search wins
        Assert.Equal(15, options.Ndots);
        Assert.Equal(TimeSpan.FromSeconds(30), options.Timeout);
        Assert.Equal(3, options.Attempts);
        Assert.True(options.Rotate);
    }

    [Fact]
    public void AMissingResolvConf_GivesTheDefaults()
    {
        DnsResolverOptions options = DnsResolverOptions.FromResolvConf(Path.Combine(_directory, "absent"));

        Assert.Empty(options.Servers);
        Assert.Equal(1, options.Ndots);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Timeout);
        Assert.Equal(2, options.Attempts);
    }

    [Fact]
    public void HostsFile_MapsNamesAndAliases_ByFamily_CaseInsensitively()
    {
        HostsFile hosts = HostsFile.Parse("""
            127.0.0.1   localhost
            ::1         localhost ip6-localhost   # comment
            192.0.2.7   Build.Test build
            192.0.2.8   build.test
            garbage     skipped.test
            # 192.0.2.9 commented.test
            """);

        Assert.Equal([IPAddress.Loopback, IPAddress.IPv6Loopback], hosts.Find("localhost", AddressFamily.Unspecified));
        Assert.Equal([IPAddress.IPv6Loopback], hosts.Find("localhost", AddressFamily.InterNetworkV6));
        Assert.Equal([IPAddress.Parse("192.0.2.7"), IPAddress.Parse("192.0.2.8")], hosts.Find("BUILD.test.", AddressFamily.InterNetwork));
        Assert.Equal([IPAddress.Parse("192.0.2.7")], hosts.Find("build", AddressFamily.Unspecified));
        Assert.Null(hosts.Find("build", AddressFamily.InterNetworkV6));
        Assert.Null(hosts.Find("skipped.test", AddressFamily.Unspecified));
        Assert.Null(hosts.Find("commented.test", AddressFamily.Unspecified));
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("a..b")]
    [InlineData("has space.test")]
    [InlineData("bäckerei.test")]
    [InlineData("back\\slash.test")]
    public void NamesThatCannotBeSent_AreRefusedWithAClearError(string name)
    {
        ArgumentException error = Assert.Throws<ArgumentException>(() => DnsQueryWriter.ValidateHostName(name, "hostName"));
        Assert.Contains("is not a host name", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NamesAtTheLimits_AreAccepted_AndOneOctetMoreIsNot()
    {
        string label63 = new('a', 63);
        string name253 = string.Join('.', label63, label63, label63, new string('b', 61));
        DnsQueryWriter.ValidateHostName(name253, "hostName");
        DnsQueryWriter.ValidateHostName(name253 + ".", "hostName");

        Assert.Throws<ArgumentException>(() => DnsQueryWriter.ValidateHostName(name253 + "b", "hostName"));
        Assert.Throws<ArgumentException>(() => DnsQueryWriter.ValidateHostName(new string('a', 64) + ".test", "hostName"));
    }

    [Fact]
    public void AQuery_IsReadBackAsItsOwnQuestion()
    {
        byte[] query = new byte[DnsQueryWriter.MaxQuerySize];
        int length = DnsQueryWriter.Write(query, 0xBEEF, "Mixed-Case.example.test.", DnsRecordType.Aaaa);

        DnsMessageReader reader = new(query.AsSpan(0, length));
        DnsHeader header = reader.ReadHeader();
        (string name, DnsRecordType type, ushort @class) = reader.ReadQuestion();

        Assert.Equal((0xBEEF, false, 1, 0), (header.Id, header.IsResponse, header.QuestionCount, header.AnswerCount));
        Assert.Equal(("Mixed-Case.example.test", DnsRecordType.Aaaa, (ushort)1), (name, type, @class));
    }

    [Fact]
    public void BadOptions_AreRefusedNamingTheOption()
    {
        Assert.Equal("Timeout", Assert.Throws<ArgumentOutOfRangeException>(() => new DnsResolver(new DnsResolverOptions { Timeout = TimeSpan.Zero })).ParamName);
        Assert.Equal("Attempts", Assert.Throws<ArgumentOutOfRangeException>(() => new DnsResolver(new DnsResolverOptions { Attempts = 0 })).ParamName);
        Assert.Equal("Ndots", Assert.Throws<ArgumentOutOfRangeException>(() => new DnsResolver(new DnsResolverOptions { Ndots = 16 })).ParamName);
        DnsResolverOptions portless = new();
        portless.Servers.Add(new IPEndPoint(IPAddress.Loopback, 0));
        Assert.Equal("Servers", Assert.Throws<ArgumentException>(() => new DnsResolver(portless)).ParamName);
        DnsResolverOptions badDomain = new();
        badDomain.SearchDomains.Add("bad..domain");
        Assert.Equal("SearchDomains", Assert.Throws<ArgumentException>(() => new DnsResolver(badDomain)).ParamName);
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllText(path, text);
        return path;
    }
}

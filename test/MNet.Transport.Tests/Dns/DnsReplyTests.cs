using System.Net;
using MNet.Transport.Dns;
using MNet.Transport.Tests.Infrastructure;

namespace MNet.Transport.Tests.Dns;

/// <summary>The strict reader: what a reply means, and that no broken reply gets past it as anything but a format error.</summary>
public sealed class DnsReplyTests
{
    private const ushort Id = 0x4242;

    [Fact]
    public void ACNameChain_IsFollowedToTheAddresses_WithTheLeastTtl()
    {
        byte[] message = new DnsWire(Id, DnsWire.ResponseFlags, "www.example.test", DnsWire.A)
            .Answer("www.example.test", DnsWire.CName, 600, DnsWire.EncodeName("edge.example.test"))
            .Answer("edge.example.test", DnsWire.CName, 120, DnsWire.EncodeName("host.example.test"))
            .Answer("host.example.test", DnsWire.A, 300, DnsWire.AddressData("192.0.2.1"))
            .Answer("host.example.test", DnsWire.A, 300, DnsWire.AddressData("192.0.2.2"))
            .Build();

        DnsReply reply = Parse(message, "www.example.test", DnsRecordType.A)!;

        Assert.Equal(DnsResponseCode.NoError, reply.ResponseCode);
        Assert.Equal("host.example.test", reply.CanonicalName);
        Assert.Equal([IPAddress.Parse("192.0.2.1"), IPAddress.Parse("192.0.2.2")], reply.Addresses);
        Assert.Equal(120u, reply.TimeToLive);
    }

    [Fact]
    public void CompressedNames_AreReadThroughBackwardPointers()
    {
        // The answer's owner is a pointer to the question name at offset 12.
        byte[] message = new DnsWire(Id, DnsWire.ResponseFlags, "a.example.test", DnsWire.Aaaa)
            .Answer([0xC0, 12], DnsWire.Aaaa, 30, DnsWire.AddressData("2001:db8::1"))
            .Build();

        DnsReply reply = Parse(message, "a.example.test", DnsRecordType.Aaaa)!;

        Assert.Equal([IPAddress.Parse("2001:db8::1")], reply.Addresses);
    }

    [Fact]
    public void RecordsOfAnotherTypeOwnerOrClass_AreNeverReadAsAddresses()
    {
        byte[] message = new DnsWire(Id, DnsWire.ResponseFlags, "x.test", DnsWire.A)
            .Answer("x.test", DnsWire.Ptr, 30, [1, 2, 3, 4]) // four bytes, but a PTR is not an A
            .Answer("y.test", DnsWire.A, 30, DnsWire.AddressData("192.0.2.9")) // not on the chain
            .Answer("x.test", DnsWire.Aaaa, 30, DnsWire.AddressData("2001:db8::9")) // not the type asked
            .Build();

        DnsReply reply = Parse(message, "x.test", DnsRecordType.A)!;

        Assert.Empty(reply.Addresses);
    }

    [Fact]
    public void NegativeAnswers_CarryTheSoaMinimum()
    {
        byte[] message = new DnsWire(Id, DnsWire.ResponseFlags | DnsWire.NameError, "gone.test", DnsWire.A)
            .Authority("test", DnsWire.Soa, 900, DnsWire.SoaData(45))
            .Build();

        DnsReply reply = Parse(message, "gone.test", DnsRecordType.A)!;

        Assert.Equal(DnsResponseCode.NameError, reply.ResponseCode);
        Assert.Equal(45u, reply.NegativeTimeToLive);
    }

    [Theory]
    [InlineData(0x1111, "x.test", DnsWire.A)] // another id
    [InlineData(Id, "y.test", DnsWire.A)] // another name
    [InlineData(Id, "x.test", DnsWire.Aaaa)] // another type
    public void AReplyToAnotherQuestion_IsNotOurs(int id, string name, ushort type)
    {
        byte[] message = new DnsWire((ushort)id, DnsWire.ResponseFlags, name, type).Answer(name, type, 30, new byte[type == DnsWire.A ? 4 : 16]).Build();

        Assert.Null(Parse(message, "x.test", DnsRecordType.A));
    }

    [Fact]
    public void AnAddressOfTheWrongLength_IsMalformed()
    {
        byte[] message = new DnsWire(Id, DnsWire.ResponseFlags, "x.test", DnsWire.A).Answer("x.test", DnsWire.A, 30, [1, 2, 3, 4, 5]).Build();

        Assert.Throws<DnsFormatException>(() => Parse(message, "x.test", DnsRecordType.A));
    }

    [Theory]
    [InlineData(new byte[] { 0xC0, 0x1C })] // a pointer to itself (the answer starts at 28)
    [InlineData(new byte[] { 0xC0, 0x30 })] // a pointer forward, past the end
    [InlineData(new byte[] { 0xC0, 0x02 })] // a pointer into the header
    [InlineData(new byte[] { 0x80, 0x00 })] // a reserved label type
    public void BadCompression_IsMalformed(byte[] owner)
    {
        byte[] message = new DnsWire(Id, DnsWire.ResponseFlags, "x.test", DnsWire.A).Answer(owner, DnsWire.A, 30, [1, 2, 3, 4]).Build();

        Assert.Throws<DnsFormatException>(() => Parse(message, "x.test", DnsRecordType.A));
    }

    [Fact]
    public void TwoPointersAtEachOther_AreMalformed_NotAnEndlessLoop()
    {
        // Answer 1's owner is "a" then a pointer to answer 2's owner; answer 2's owner points back at answer 1's.
        DnsWire wire = new(Id, DnsWire.ResponseFlags, "x.test", DnsWire.A);
        int first = 12 + DnsWire.EncodeName("x.test").Length + 4;
        int second = first + 4 + 10 + 4;
        wire.Answer([1, (byte)'a', 0xC0, (byte)second], DnsWire.A, 30, [1, 2, 3, 4]);
        wire.Answer([0xC0, (byte)first], DnsWire.A, 30, [1, 2, 3, 4]);

        Assert.Throws<DnsFormatException>(() => Parse(wire.Build(), "x.test", DnsRecordType.A));
    }

    [Fact]
    public void ANameLongerThan255Octets_IsMalformed()
    {
        string longName = string.Join('.', Enumerable.Repeat(new string('a', 63), 4)); // 4 x 64 + 1 = 257 octets
        byte[] message = new DnsWire(Id, DnsWire.ResponseFlags, "x.test", DnsWire.A).Answer(longName, DnsWire.A, 30, [1, 2, 3, 4]).Build();

        Assert.Throws<DnsFormatException>(() => Parse(message, "x.test", DnsRecordType.A));
    }

    [Fact]
    public void EveryTruncationOfAGoodReply_IsMalformed()
    {
        byte[] message = GoodReply();
        for (int length = 0; length < message.Length; length++)
        {
            byte[] cut = message[..length];
            Assert.Throws<DnsFormatException>(() => Parse(cut, "www.example.test", DnsRecordType.A));
        }
    }

    [Fact]
    public void AHundredThousandMutatedReplies_EndInAResultOrAFormatError_NeverAnotherException()
    {
        Random random = new(20261123);
        byte[] original = GoodReply();
        int parsed = 0, malformed = 0;
        for (int i = 0; i < 100_000; i++)
        {
            byte[] mutated = Mutate(original, random);
            try
            {
                if (Parse(mutated, "www.example.test", DnsRecordType.A) is { } reply)
                {
                    Assert.All(reply.Addresses, a => Assert.Equal(System.Net.Sockets.AddressFamily.InterNetwork, a.AddressFamily));
                    parsed++;
                }
            }
            catch (DnsFormatException)
            {
                malformed++;
            }
        }

        // Both outcomes must be common, or the mutations are too weak (or too wild) to test anything.
        Assert.True(parsed > 10_000, $"only {parsed} mutated replies parsed");
        Assert.True(malformed > 10_000, $"only {malformed} mutated replies were malformed");
    }

    private static DnsReply? Parse(byte[] message, string name, DnsRecordType type) => DnsReply.Parse(message, Id, name, type);

    private static byte[] GoodReply() => new DnsWire(Id, DnsWire.ResponseFlags, "www.example.test", DnsWire.A)
        .Answer([0xC0, 12], DnsWire.CName, 600, [4, (byte)'h', (byte)'o', (byte)'s', (byte)'t', 0xC0, 16])
        .Answer("host.example.test", DnsWire.A, 300, DnsWire.AddressData("192.0.2.1"))
        .Authority("test", DnsWire.Soa, 900, DnsWire.SoaData(45))
        .Build();

    private static byte[] Mutate(byte[] original, Random random)
    {
        List<byte> bytes = [.. original];
        int edits = random.Next(1, 4);
        for (int e = 0; e < edits && bytes.Count > 0; e++)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 2:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 3:
                    bytes.Insert(at, (byte)random.Next(256));
                    break;
                case 4:
                    bytes[at] = 0xC0; // a compression pointer to a random place
                    bytes.Insert(at + 1, (byte)random.Next(bytes.Count));
                    break;
                default:
                    bytes.RemoveAt(at);
                    break;
            }
        }
        // Keep the id so most mutants reach the body instead of being dismissed as another query's reply.
        if (bytes.Count >= 2)
        {
            bytes[0] = original[0];
            bytes[1] = original[1];
        }
        return [.. bytes];
    }
}

using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using MNet.Transport.Tcp;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Dns;

public sealed partial class DnsResolver
{
    /// <summary>
    /// Asks the servers in turn, <see cref="_attempts"/> rounds over all of them, until one answers NOERROR or NXDOMAIN;
    /// a server that fails, refuses or stays silent for <see cref="_timeout"/> passes the question to the next.
    /// </summary>
    private async Task<(DnsReply? Reply, string? Failure)> ExchangeAsync(string name, DnsRecordType type)
    {
        int first = _rotate ? (int)((uint)Interlocked.Increment(ref _nextServer) % (uint)_servers.Length) : 0;
        string failure = "no server answered";
        for (int attempt = 0; attempt < _attempts; attempt++)
        {
            for (int i = 0; i < _servers.Length; i++)
            {
                int serverIndex = (first + i) % _servers.Length;
                IPEndPoint server = _servers[serverIndex];
                try
                {
                    DnsReply? reply = await ExchangeOverUdpAsync(serverIndex, name, type).ConfigureAwait(false);
                    if (reply?.IsTruncated == true)
                    {
                        reply = await ExchangeOverTcpAsync(server, name, type).ConfigureAwait(false);
                    }
                    if (reply is null)
                    {
                        failure = $"{server} did not answer within {_timeout.TotalMilliseconds} ms";
                    }
                    else if (reply.IsTruncated)
                    {
                        failure = $"{server} sent a truncated answer over TCP";
                    }
                    else if (reply.ResponseCode is DnsResponseCode.NoError or DnsResponseCode.NameError)
                    {
                        return (reply, null);
                    }
                    else
                    {
                        failure = $"{server} answered {reply.ResponseCode}";
                    }
                }
                catch (SocketException ex)
                {
                    failure = $"{server}: {ex.Message}";
                }
            }
        }
        return (null, failure);
    }

    /// <summary>One query over UDP on the server's current socket; null when no matching reply came in time.</summary>
    private Task<DnsReply?> ExchangeOverUdpAsync(int serverIndex, string name, DnsRecordType type)
    {
        while (true)
        {
            DnsUdpSocket? socket = Volatile.Read(ref _udpSockets[serverIndex]);
            if (socket is null || socket.IsRetired)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                DnsUdpSocket opened = DnsUdpSocket.Open(_servers[serverIndex], _runtime.NextDatagramLoop());
                if (Interlocked.CompareExchange(ref _udpSockets[serverIndex], opened, socket) != socket)
                {
                    opened.Dispose(); // another caller replaced it first; use theirs
                    continue;
                }
                if (_disposed)
                {
                    opened.Dispose(); // opened while Dispose ran: nothing else would close it
                    ObjectDisposedException.ThrowIf(true, this);
                }
                socket = opened;
            }
            if (socket.TryExchangeAsync(name, type, _timeout) is { } exchange)
            {
                return exchange;
            }
        }
    }

    /// <summary>The query again over TCP (RFC 7766) on an MNet client connection; null when it failed or timed out.</summary>
    private async Task<DnsReply?> ExchangeOverTcpAsync(IPEndPoint server, string name, DnsRecordType type)
    {
        ushort id = NewQueryId();
        byte[] query = new byte[2 + DnsQueryWriter.MaxQuerySize];
        int length = DnsQueryWriter.Write(query.AsSpan(2), id, name, type);
        BinaryPrimitives.WriteUInt16BigEndian(query, (ushort)length);

        using CancellationTokenSource timeout = new(_timeout, _runtime.EnsureStarted().Loops[0].TimeProvider);
        try
        {
            ConnectionContext connection = await TcpConnector.ConnectAsync(server, _runtime, timeout.Token).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                await connection.Transport.Output.WriteAsync(query.AsMemory(0, 2 + length), timeout.Token).ConfigureAwait(false);
                byte[]? reply = await ReadLengthPrefixedAsync(connection.Transport.Input, timeout.Token).ConfigureAwait(false);
                return reply is null ? null : TryParse(reply, id, name, type);
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return null;
        }
    }

    private static async Task<byte[]?> ReadLengthPrefixedAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult read = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = read.Buffer;
            SequenceReader<byte> reader = new(buffer);
            if (reader.TryReadBigEndian(out short prefix))
            {
                int length = (ushort)prefix;
                if (buffer.Length >= 2 + length)
                {
                    byte[] message = buffer.Slice(2, length).ToArray();
                    input.AdvanceTo(buffer.End);
                    return message;
                }
            }
            if (read.IsCompleted)
            {
                input.AdvanceTo(buffer.End);
                return null; // closed before a whole message
            }
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static DnsReply? TryParse(ReadOnlySpan<byte> message, ushort id, string name, DnsRecordType type)
    {
        try
        {
            DnsReply? reply = DnsReply.Parse(message, id, name, type);
            if (reply is null)
            {
                DnsUdpSocket.CountDropped("mismatched");
            }
            return reply;
        }
        catch (DnsFormatException)
        {
            DnsUdpSocket.CountDropped("malformed");
            return null;
        }
    }

    private static ushort NewQueryId() => (ushort)RandomNumberGenerator.GetInt32(0x10000);
}

using System.Net;
using System.Net.Sockets;
using MNet.Transport.Diagnostics;
using MNet.Transport.Loop;
using MNet.Transport.Native;

namespace MNet.Transport.Udp;

/// <summary>
/// The portable backend's <see cref="UdpChannel"/>: a <see cref="Socket"/> whose receives and sends run on .NET's
/// socket engine (epoll, kqueue or IOCP underneath), completing on its threads. The loop only keeps it, so a loop
/// that stops closes it.
/// </summary>
internal sealed class PortableUdpChannel : UdpChannel, ILoopResident
{
    private readonly Socket _socket;
    private readonly EventLoop _loop;
    private readonly EndPoint _anySender;
    private ulong _registration;
    private int _receivePending;
    private volatile bool _disposed;

    private PortableUdpChannel(Socket socket, EventLoop loop)
        : base((IPEndPoint)socket.LocalEndPoint!)
    {
        _socket = socket;
        _loop = loop;
        _anySender = new IPEndPoint(IsIPv6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        loop.Schedule(static state => ((PortableUdpChannel)state!).Track(), this);
    }

    /// <summary>Opens and binds the socket; <see cref="UdpChannel.Bind(IPEndPoint, UdpChannelOptions?, EventLoop, bool)"/> checked the arguments.</summary>
    public static PortableUdpChannel Open(IPEndPoint localEndPoint, UdpChannelOptions options, EventLoop loop)
    {
        Socket socket = new(localEndPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (options.ReuseAddress)
            {
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            }
            if (options.ReceiveBufferSize is int receiveBufferSize)
            {
                socket.ReceiveBufferSize = receiveBufferSize;
            }
            if (options.SendBufferSize is int sendBufferSize)
            {
                socket.SendBufferSize = sendBufferSize;
            }
            if (localEndPoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = localEndPoint.Address.Equals(IPAddress.IPv6Any);
            }
            if (OperatingSystem.IsLinux())
            {
                // As on epoll: a wildcard-bound socket gets only the groups it joined, not every group on the host.
                (int level, int name) = localEndPoint.AddressFamily == AddressFamily.InterNetworkV6
                    ? (Libc.IPPROTO_IPV6, Libc.IPV6_MULTICAST_ALL)
                    : (Libc.IPPROTO_IP, Libc.IP_MULTICAST_ALL);
                socket.SetRawSocketOption(level, name, BitConverter.GetBytes(0));
            }
            socket.Bind(localEndPoint);
            return new PortableUdpChannel(socket, loop);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    void ILoopResident.OnLoopStopping() => Close();

    private protected override void ConnectCore(IPEndPoint remoteEndPoint)
    {
        ThrowIfDisposed();
        _socket.Connect(remoteEndPoint);
        RemoteEndPoint = remoteEndPoint;
    }

    private protected override ValueTask<DatagramReceiveResult> ReceiveCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        if (Interlocked.Exchange(ref _receivePending, 1) == 1)
        {
            throw new InvalidOperationException("A receive is already pending on this channel; await it before starting another.");
        }
        return ReceiveOneAsync(buffer, cancellationToken);
    }

    private protected override ValueTask SendCoreAsync(ReadOnlyMemory<byte> datagram, IPEndPoint? remoteEndPoint, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        return SendOneAsync(datagram, remoteEndPoint, cancellationToken);
    }

    private protected override ValueTask SendBatchCoreAsync(DatagramSendBatch batch, CancellationToken cancellationToken)
    {
        if (_disposed)
        {
            batch.Clear();
            ThrowIfDisposed();
        }
        return SendEachAsync(batch, cancellationToken);
    }

    private protected override void Close()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _socket.Dispose(); // a pending receive or send fails, and reports ObjectDisposedException
        _loop.Schedule(static state => ((PortableUdpChannel)state!).Untrack(), this);
    }

    private protected override int GetOption(UdpSocketOption option)
    {
        ThrowIfDisposed();
        (SocketOptionLevel level, SocketOptionName name) = Managed(option);
        return (int)_socket.GetSocketOption(level, name)!;
    }

    private protected override void SetOption(UdpSocketOption option, int value)
    {
        ThrowIfDisposed();
        (SocketOptionLevel level, SocketOptionName name) = Managed(option);
        _socket.SetSocketOption(level, name, value);
    }

    private protected override void SetMulticastInterfaceCore(IPAddress localAddress)
    {
        ThrowIfDisposed();
        _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, localAddress.GetAddressBytes());
    }

    private protected override void ChangeMembershipCore(IPAddress group, IPAddress? localAddress, bool join)
    {
        ThrowIfDisposed();
        _socket.SetSocketOption(SocketOptionLevel.IP, join ? SocketOptionName.AddMembership : SocketOptionName.DropMembership,
            new MulticastOption(group, localAddress ?? IPAddress.Any));
    }

    private protected override void ChangeMembershipCore(IPAddress group, int interfaceIndex, bool join)
    {
        ThrowIfDisposed();
        _socket.SetSocketOption(SocketOptionLevel.IPv6, join ? SocketOptionName.AddMembership : SocketOptionName.DropMembership,
            new IPv6MulticastOption(group, interfaceIndex));
    }

    private async ValueTask<DatagramReceiveResult> ReceiveOneAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            // ReceiveMessageFrom, unlike ReceiveFrom, reports the flags: MSG_TRUNC says the datagram was longer than the buffer.
            SocketReceiveMessageFromResult received = await _socket.ReceiveMessageFromAsync(buffer, SocketFlags.None, _anySender, cancellationToken)
                .ConfigureAwait(false);
            bool truncated = (received.SocketFlags & SocketFlags.Truncated) != 0;
            MNetMetrics.DatagramsReceived.Add(1);
            if (truncated)
            {
                MNetMetrics.DatagramsTruncated.Add(1);
            }
            return new DatagramReceiveResult(received.ReceivedBytes, (IPEndPoint)received.RemoteEndPoint, truncated);
        }
        catch (Exception ex) when (_disposed && ex is SocketException or ObjectDisposedException)
        {
            throw Disposed();
        }
        finally
        {
            Volatile.Write(ref _receivePending, 0);
        }
    }

    private async ValueTask SendOneAsync(ReadOnlyMemory<byte> datagram, IPEndPoint? remoteEndPoint, CancellationToken cancellationToken)
    {
        try
        {
            if (remoteEndPoint is null)
            {
                await _socket.SendAsync(datagram, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await _socket.SendToAsync(datagram, SocketFlags.None, remoteEndPoint, cancellationToken).ConfigureAwait(false);
            }
            MNetMetrics.DatagramsSent.Add(1);
        }
        catch (Exception ex) when (_disposed && ex is SocketException or ObjectDisposedException)
        {
            throw Disposed();
        }
    }

    /// <summary>One send per datagram: the engine has no sendmmsg. A refused one is skipped, and its error thrown after the rest went.</summary>
    private async ValueTask SendEachAsync(DatagramSendBatch batch, CancellationToken cancellationToken)
    {
        SocketException? firstRefusal = null;
        try
        {
            for (; batch.Count > 0; batch.RemoveFirst())
            {
                (ReadOnlyMemory<byte> datagram, IPEndPoint? destination) = batch.PeekFirst();
                try
                {
                    await SendOneAsync(datagram, destination, cancellationToken).ConfigureAwait(false);
                }
                catch (SocketException ex)
                {
                    firstRefusal ??= ex;
                }
            }
        }
        finally
        {
            batch.Clear();
        }
        if (firstRefusal is not null)
        {
            throw firstRefusal;
        }
    }

    private void Track()
    {
        if (_disposed)
        {
            return;
        }
        try
        {
            _registration = _loop.Track(this);
        }
        catch (ObjectDisposedException)
        {
            // The loop has exited: the channel works without it, and nothing is left to close it for.
        }
    }

    private void Untrack() => _loop.Unregister(_registration);

    /// <summary>The managed level and name of <paramref name="option"/> for this channel's family.</summary>
    private (SocketOptionLevel Level, SocketOptionName Name) Managed(UdpSocketOption option)
    {
        SocketOptionLevel ip = IsIPv6 ? SocketOptionLevel.IPv6 : SocketOptionLevel.IP;
        return option switch
        {
            UdpSocketOption.Broadcast => (SocketOptionLevel.Socket, SocketOptionName.Broadcast),
            UdpSocketOption.TimeToLive => (ip, SocketOptionName.IpTimeToLive),
            UdpSocketOption.MulticastTimeToLive => (ip, SocketOptionName.MulticastTimeToLive),
            UdpSocketOption.MulticastLoopback => (ip, SocketOptionName.MulticastLoopback),
            _ => throw new ArgumentOutOfRangeException(nameof(option), option, null),
        };
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private ObjectDisposedException Disposed() => new(GetType().FullName);
}

using System.Net;
using System.Net.Sockets;
using MNet.Transport.Hosting;
using MNet.Transport.Loop;

namespace MNet.Transport.Udp;

/// <summary>
/// A UDP socket on an MNet event loop that keeps message boundaries: each receive returns one datagram, and one
/// that does not fit the buffer is reported as truncated, never silently cut. On the epoll backend receives and
/// sends run the syscall on the calling thread when the socket is ready and wait on the loop only when it is not,
/// and a burst of small datagrams is read with one recvmmsg; on the portable backend they run on .NET's socket engine.
/// </summary>
/// <remarks>
/// One receive may be outstanding at a time; sends may come from any number of threads. Dispose completes a
/// pending receive with <see cref="ObjectDisposedException"/>.
/// </remarks>
public abstract partial class UdpChannel : IDisposable
{
    private protected UdpChannel(IPEndPoint localEndPoint)
    {
        LocalEndPoint = localEndPoint;
    }

    /// <summary>The address and port the channel is bound to (a port the system chose when 0 was asked for).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The peer set by <see cref="Connect"/>, or null while the channel takes datagrams from anyone.</summary>
    public IPEndPoint? RemoteEndPoint { get; private protected set; }

    private protected bool IsIPv6 => LocalEndPoint.AddressFamily == AddressFamily.InterNetworkV6;

    /// <summary>Binds a channel to <paramref name="localEndPoint"/> on the process's shared MNet loop.</summary>
    /// <param name="localEndPoint">An IPv4 or IPv6 address; port 0 picks a free port. <see cref="IPAddress.IPv6Any"/> also receives IPv4.</param>
    /// <param name="options">Socket options, or null for the defaults.</param>
    /// <exception cref="SocketException">The address is in use or not available.</exception>
    public static UdpChannel Bind(IPEndPoint localEndPoint, UdpChannelOptions? options = null)
        => Bind(localEndPoint, options, TransportRuntime.SharedLoop);

    /// <param name="localEndPoint">The address to bind.</param>
    /// <param name="options">Socket options, or null for the defaults.</param>
    /// <param name="loop">The loop the channel lives on; its backend decides how the channel does its I/O.</param>
    /// <param name="completeReceivesInline">
    /// Runs the continuation of a receive that had to wait on the thread that completes it (the loop's, or the
    /// socket engine's) instead of the thread pool: for the transport's own short, non-blocking continuations only.
    /// </param>
    internal static UdpChannel Bind(IPEndPoint localEndPoint, UdpChannelOptions? options, EventLoop loop, bool completeReceivesInline = false)
    {
        ArgumentNullException.ThrowIfNull(localEndPoint);
        options ??= new UdpChannelOptions();
        options.Validate();
        if (localEndPoint.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException($"A UDP channel binds an IPv4 or IPv6 address, not {localEndPoint.AddressFamily}.", nameof(localEndPoint));
        }
        return loop.PollsDescriptors
            ? EpollUdpChannel.Open(localEndPoint, options, loop, completeReceivesInline)
            : PortableUdpChannel.Open(localEndPoint, options, loop); // its receives complete on the engine's threads, never a loop's
    }

    /// <summary>
    /// Fixes the peer: <see cref="SendAsync"/> goes to it, only its datagrams are received, and an ICMP error it
    /// causes (port unreachable) fails the next send or receive with a <see cref="SocketException"/>.
    /// </summary>
    public void Connect(IPEndPoint remoteEndPoint)
    {
        ArgumentNullException.ThrowIfNull(remoteEndPoint);
        ConnectCore(MatchFamily(remoteEndPoint));
    }

    /// <summary>
    /// Receives one datagram into <paramref name="buffer"/>. Completes at once when one is waiting; a datagram
    /// longer than the buffer fills it and is reported with <see cref="DatagramReceiveResult.IsTruncated"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">Another receive is still pending.</exception>
    /// <exception cref="SocketException">A connected channel's peer refused an earlier datagram (ICMP), or another socket error.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled first.</exception>
    /// <exception cref="ObjectDisposedException">The channel is (or gets) disposed.</exception>
    public ValueTask<DatagramReceiveResult> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => cancellationToken.IsCancellationRequested
            ? ValueTask.FromCanceled<DatagramReceiveResult>(cancellationToken)
            : ReceiveCoreAsync(buffer, cancellationToken);

    /// <summary>Sends <paramref name="datagram"/> to <paramref name="remoteEndPoint"/>; completes at once unless the socket's send buffer is full.</summary>
    /// <exception cref="SocketException">The datagram is too long (MessageSize), broadcast is not enabled, or another socket error.</exception>
    /// <exception cref="ObjectDisposedException">The channel is disposed.</exception>
    public ValueTask SendToAsync(ReadOnlyMemory<byte> datagram, IPEndPoint remoteEndPoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(remoteEndPoint);
        IPEndPoint destination = MatchFamily(remoteEndPoint);
        return cancellationToken.IsCancellationRequested
            ? ValueTask.FromCanceled(cancellationToken)
            : SendCoreAsync(datagram, destination, cancellationToken);
    }

    /// <summary>Sends <paramref name="datagram"/> to the peer set by <see cref="Connect"/>.</summary>
    /// <exception cref="InvalidOperationException">The channel is not connected.</exception>
    /// <exception cref="SocketException">The peer refused an earlier datagram (ICMP port unreachable), or another socket error.</exception>
    public ValueTask SendAsync(ReadOnlyMemory<byte> datagram, CancellationToken cancellationToken = default)
    {
        if (RemoteEndPoint is null)
        {
            throw new InvalidOperationException("SendAsync needs a connected channel: call Connect first, or use SendToAsync.");
        }
        return cancellationToken.IsCancellationRequested
            ? ValueTask.FromCanceled(cancellationToken)
            : SendCoreAsync(datagram, null, cancellationToken);
    }

    /// <summary>
    /// Sends every datagram of <paramref name="batch"/> with as few calls as the socket allows (one sendmmsg on the
    /// epoll backend, unless its send buffer fills), then clears the batch. A datagram the kernel refuses (too long,
    /// unreachable) is skipped so the rest still go, and the first such error is thrown once they have.
    /// </summary>
    /// <exception cref="SocketException">A datagram was refused; the others were sent.</exception>
    /// <exception cref="OperationCanceledException">Canceled while waiting for room; the datagrams not sent yet are dropped.</exception>
    /// <exception cref="ObjectDisposedException">The channel is disposed.</exception>
    public ValueTask SendBatchAsync(DatagramSendBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (cancellationToken.IsCancellationRequested)
        {
            batch.Clear();
            return ValueTask.FromCanceled(cancellationToken);
        }
        return SendBatchCoreAsync(batch, cancellationToken);
    }

    /// <summary>Closes the socket. A pending receive fails with <see cref="ObjectDisposedException"/>; later calls throw it.</summary>
    public void Dispose()
    {
        Close();
        GC.SuppressFinalize(this);
    }

    private protected abstract void ConnectCore(IPEndPoint remoteEndPoint);

    private protected abstract ValueTask<DatagramReceiveResult> ReceiveCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Sends to <paramref name="remoteEndPoint"/>, already in the channel's family, or to the connected peer when it is null.</summary>
    private protected abstract ValueTask SendCoreAsync(ReadOnlyMemory<byte> datagram, IPEndPoint? remoteEndPoint, CancellationToken cancellationToken);

    private protected abstract ValueTask SendBatchCoreAsync(DatagramSendBatch batch, CancellationToken cancellationToken);

    /// <summary>Closes the socket and fails what is pending; safe to call more than once.</summary>
    private protected abstract void Close();

    /// <summary>An IPv4 peer of a dual-stack IPv6 socket is addressed as IPv4-mapped IPv6.</summary>
    private IPEndPoint MatchFamily(IPEndPoint endPoint)
    {
        if (endPoint.AddressFamily == LocalEndPoint.AddressFamily)
        {
            return endPoint;
        }
        if (IsIPv6 && endPoint.AddressFamily == AddressFamily.InterNetwork)
        {
            return new IPEndPoint(endPoint.Address.MapToIPv6(), endPoint.Port);
        }
        throw new ArgumentException($"An IPv4 channel cannot reach the IPv6 address {endPoint}.", nameof(endPoint));
    }
}

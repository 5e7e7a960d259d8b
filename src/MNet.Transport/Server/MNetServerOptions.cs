using System.Net;
using System.Net.Sockets;
using MNet.Transport.Udp;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Server;

/// <summary>The endpoints an <see cref="MNetServer"/> listens on and the connection pipeline each one runs.</summary>
public sealed class MNetServerOptions
{
    private readonly List<ListenerDefinition> _listeners = [];
    private readonly List<UdpListenerDefinition> _udpListeners = [];

    /// <summary>
    /// How long a TCP or Unix connection may go without receiving or sending a byte before the server aborts it
    /// (its handler's reads then fail with <see cref="ConnectionAbortedException"/>). Timed on the connection's
    /// event loop. Defaults to <see cref="Timeout.InfiniteTimeSpan"/>: connections may idle for ever.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    internal IReadOnlyList<ListenerDefinition> Listeners => _listeners;

    internal IReadOnlyList<UdpListenerDefinition> UdpListeners => _udpListeners;

    /// <summary>Listens for TCP connections on <paramref name="endPoint"/> (port 0 picks a free port).</summary>
    /// <param name="endPoint">An IPv4 or IPv6 address and port; <see cref="IPAddress.IPv6Any"/> also accepts IPv4 clients.</param>
    /// <param name="configure">Builds the pipeline, e.g. <c>c => c.UseConnectionLogging().Run(handler)</c>.</param>
    public MNetServerOptions ListenTcp(IPEndPoint endPoint, Action<IConnectionBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        return Add(endPoint, configure);
    }

    /// <summary>Listens on a Unix domain socket at <paramref name="path"/>; the file is removed when the server stops.</summary>
    public MNetServerOptions ListenUnix(string path, Action<IConnectionBuilder> configure)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Add(new UnixDomainSocketEndPoint(path), configure);
    }

    /// <summary>
    /// Serves an already listening stream socket this process inherited or was handed (for example by a parent
    /// process or systemd); the server takes ownership of <paramref name="handle"/> and closes it when it stops.
    /// </summary>
    public MNetServerOptions ListenHandle(ulong handle, Action<IConnectionBuilder> configure)
        => Add(new FileHandleEndPoint(handle, FileHandleType.Auto), configure);

    /// <summary>
    /// Receives UDP datagrams on <paramref name="endPoint"/> and runs <paramref name="handler"/> for each, one at a
    /// time, in arrival order; <see cref="UdpDatagram.ReplyAsync"/> answers the sender.
    /// </summary>
    /// <param name="endPoint">An IPv4 or IPv6 address and port (port 0 picks a free port).</param>
    /// <param name="handler">Handles one datagram; an exception it throws is logged and the next datagram is handled.</param>
    /// <param name="configure">Sets the handler's queue bound and the socket options, or null for the defaults.</param>
    public MNetServerOptions ListenUdp(IPEndPoint endPoint, Func<UdpDatagram, ValueTask> handler, Action<UdpListenOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        ArgumentNullException.ThrowIfNull(handler);
        UdpListenOptions options = new();
        configure?.Invoke(options);
        options.Channel.Validate();
        _udpListeners.Add(new UdpListenerDefinition(endPoint, handler, options));
        return this;
    }

    internal void Validate()
    {
        if (IdleTimeout != Timeout.InfiniteTimeSpan && (IdleTimeout <= TimeSpan.Zero || IdleTimeout.TotalMilliseconds > int.MaxValue))
        {
            throw new ArgumentOutOfRangeException(nameof(IdleTimeout), IdleTimeout, $"{nameof(IdleTimeout)} must be positive or Timeout.InfiniteTimeSpan.");
        }
    }

    private MNetServerOptions Add(EndPoint endPoint, Action<IConnectionBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _listeners.Add(new ListenerDefinition(endPoint, configure));
        return this;
    }
}

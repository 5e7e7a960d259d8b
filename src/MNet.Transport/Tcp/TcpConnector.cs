using System.Net;
using System.Net.Sockets;
using MNet.Transport.Dns;
using MNet.Transport.Hosting;
using MNet.Transport.Loop;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tcp;

/// <summary>Client connects for every public entry point: IP and Unix endpoints directly, host names through happy eyeballs.</summary>
internal static class TcpConnector
{
    public static async ValueTask<ConnectionContext> ConnectAsync(EndPoint endpoint, TransportRuntime runtime, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        (LoopGroup loops, TcpConnectionSettings[] settings) = runtime.EnsureStarted();
        TimeProvider timers = loops[0].TimeProvider; // not Next(): that would skew which loops the connections land on
        TimeSpan limit = runtime.Options.ConnectTimeout;
        if (limit == Timeout.InfiniteTimeSpan)
        {
            return await ConnectCoreAsync(endpoint, runtime, loops, settings, cancellationToken).ConfigureAwait(false);
        }

        // A loop timer, so a connect with a time limit costs no thread-pool timer.
        using CancellationTokenSource timeout = new(limit, timers);
        using CancellationTokenSource linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            return await ConnectCoreAsync(endpoint, runtime, loops, settings, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new SocketException((int)SocketError.TimedOut, $"connect {endpoint} timed out after {limit.TotalMilliseconds} ms");
        }
    }

    private static async ValueTask<ConnectionContext> ConnectCoreAsync(
        EndPoint endpoint, TransportRuntime runtime, LoopGroup loops, TcpConnectionSettings[] settings, CancellationToken cancellationToken)
    {
        Task<TcpConnection> Connect(EndPoint remote, CancellationToken token) => runtime.ConnectAsync(remote, settings[loops.Next().Id], token);

        switch (endpoint)
        {
            case IPEndPoint or UnixDomainSocketEndPoint:
                return await Connect(endpoint, cancellationToken).ConfigureAwait(false);
            case DnsEndPoint host:
                IReadOnlyList<IPAddress> addresses = await ResolveAsync(host, runtime.Resolver, cancellationToken).ConfigureAwait(false);
                return await HappyEyeballs.ConnectAsync(host, addresses, Connect, loops[0].TimeProvider, cancellationToken).ConfigureAwait(false);
            default:
                throw new NotSupportedException($"The MNet transport cannot connect to {endpoint.GetType().Name} '{endpoint}'.");
        }
    }

    private static async Task<IReadOnlyList<IPAddress>> ResolveAsync(DnsEndPoint host, DnsResolver resolver, CancellationToken cancellationToken)
    {
        try
        {
            return await resolver.GetHostAddressesAsync(host.Host, host.AddressFamily, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw new SocketException((int)ex.SocketErrorCode, $"Could not resolve {host.Host}: {ex.Message}");
        }
    }
}

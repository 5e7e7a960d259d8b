using System.Net;
using System.Net.Sockets;

namespace MNet.Transport.Tcp;

/// <summary>
/// Connects to the first address of a host that answers, in the manner of RFC 8305: address families interleaved,
/// a new attempt started when the previous one fails or has not finished after <see cref="AttemptDelay"/>, the
/// first success kept and the other attempts canceled.
/// </summary>
internal static class HappyEyeballs
{
    public static readonly TimeSpan AttemptDelay = TimeSpan.FromMilliseconds(250);

    public static async Task<TcpConnection> ConnectAsync(
        DnsEndPoint host,
        IReadOnlyList<IPAddress> addresses,
        Func<EndPoint, CancellationToken, Task<TcpConnection>> connect,
        TimeProvider timers,
        CancellationToken cancellationToken)
    {
        List<IPAddress> ordered = Interleave(addresses);
        using CancellationTokenSource attempts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        List<Task<TcpConnection>> running = [];
        List<Exception> failures = [];
        int next = 0;
        try
        {
            while (next < ordered.Count || running.Count > 0)
            {
                if (next < ordered.Count)
                {
                    running.Add(connect(new IPEndPoint(ordered[next++], host.Port), attempts.Token));
                }

                Task delay = Task.Delay(next < ordered.Count ? AttemptDelay : Timeout.InfiniteTimeSpan, timers, cancellationToken);
                Task finished = await Task.WhenAny([.. running, delay]).ConfigureAwait(false);
                if (finished == delay)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    continue; // the slow attempt keeps going; start the next beside it
                }

                Task<TcpConnection> attempt = (Task<TcpConnection>)finished;
                running.Remove(attempt);
                if (attempt.IsCompletedSuccessfully)
                {
                    return attempt.Result;
                }
                failures.Add(attempt.Exception!.InnerException!); // its message names the address
            }
        }
        finally
        {
            await attempts.CancelAsync().ConfigureAwait(false);
            await DisposeLateWinnersAsync(running).ConfigureAwait(false);
        }

        cancellationToken.ThrowIfCancellationRequested();
        SocketError error = failures.OfType<SocketException>().Select(f => f.SocketErrorCode).FirstOrDefault(SocketError.SocketError);
        string reasons = string.Join("; ", failures.Select(f => f.Message));
        throw new SocketException((int)error, $"Could not connect to {host.Host}:{host.Port} ({reasons}).");
    }

    private static async Task DisposeLateWinnersAsync(List<Task<TcpConnection>> attempts)
    {
        foreach (Task<TcpConnection> attempt in attempts)
        {
            try
            {
                await (await attempt.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                // canceled or failed: nothing to release
            }
        }
    }

    /// <summary>Alternates address families, keeping the resolver's order within each family.</summary>
    private static List<IPAddress> Interleave(IReadOnlyList<IPAddress> addresses)
    {
        Queue<IPAddress> first = new(), second = new();
        AddressFamily leading = addresses[0].AddressFamily;
        foreach (IPAddress address in addresses)
        {
            (address.AddressFamily == leading ? first : second).Enqueue(address);
        }

        List<IPAddress> ordered = new(addresses.Count);
        while (first.Count > 0 || second.Count > 0)
        {
            if (first.TryDequeue(out IPAddress? a))
            {
                ordered.Add(a);
            }
            if (second.TryDequeue(out IPAddress? b))
            {
                ordered.Add(b);
            }
        }
        return ordered;
    }
}

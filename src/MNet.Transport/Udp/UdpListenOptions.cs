namespace MNet.Transport.Udp;

/// <summary>Settings of one UDP endpoint of the standalone server.</summary>
public sealed class UdpListenOptions
{
    private int _queueCapacity = 1024;

    /// <summary>
    /// How many received datagrams may wait for the handler (default 1024). When the queue is full, new datagrams
    /// are dropped and counted (metric <c>mnet.udp.datagrams.dropped</c>) rather than held.
    /// </summary>
    public int QueueCapacity
    {
        get => _queueCapacity;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _queueCapacity = value;
        }
    }

    /// <summary>The socket options the endpoint is bound with, such as its kernel receive buffer.</summary>
    public UdpChannelOptions Channel { get; } = new();
}

using System.Net.Sockets;
using MNet.Transport.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace MNet.Transport.Tests.Tcp;

/// <summary>
/// A connection's feature collection behaves as Kestrel's Sockets transport's does (every test also runs on it):
/// it serves the transport's features, and keeps, replaces and removes what middleware sets.
/// </summary>
public sealed class ConnectionFeatureTests
{
    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task Features_ServeTheConnectionItself(TransportKind kind) => OnAcceptedConnectionAsync(kind, (connection, client) =>
    {
        IFeatureCollection features = connection.Features;

        Assert.Equal(connection.ConnectionId, features.GetRequiredFeature<IConnectionIdFeature>().ConnectionId);
        Assert.Same(connection.Transport, features.GetRequiredFeature<IConnectionTransportFeature>().Transport);
        Assert.Same(connection.Items, features.GetRequiredFeature<IConnectionItemsFeature>().Items);
        Assert.Equal(connection.ConnectionClosed, features.GetRequiredFeature<IConnectionLifetimeFeature>().ConnectionClosed);
        Assert.NotNull(features.GetRequiredFeature<IMemoryPoolFeature>().MemoryPool);
        Assert.False(features.IsReadOnly);
        Assert.Null(features.Get<ICustomFeature>());
    });

    [Theory]
    [MemberData(nameof(Transports.MNet), MemberType = typeof(Transports))]
    public Task EndPointFeature_HasBothEnds(TransportKind kind) => OnAcceptedConnectionAsync(kind, (connection, client) =>
    {
        IConnectionEndPointFeature endPoints = connection.Features.GetRequiredFeature<IConnectionEndPointFeature>();

        Assert.Equal(client.RemoteEndPoint, endPoints.LocalEndPoint);
        Assert.Equal(client.LocalEndPoint, endPoints.RemoteEndPoint);
    });

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task SetFeatures_AreKept_Replaced_AndRemoved(TransportKind kind) => OnAcceptedConnectionAsync(kind, (connection, client) =>
    {
        IFeatureCollection features = connection.Features;
        CustomFeature first = new(), second = new();
        int revision = features.Revision;

        // More than the collection's first array holds, so it grows.
        features.Set<ICustomFeature>(first);
        features.Set(new OtherFeature<int>());
        features.Set(new OtherFeature<long>());
        features.Set(new OtherFeature<short>());
        features.Set(new OtherFeature<byte>());
        Assert.Same(first, features.Get<ICustomFeature>());
        Assert.Same(first, features[typeof(ICustomFeature)]);
        Assert.NotNull(features.Get<OtherFeature<byte>>());
        Assert.True(features.Revision > revision);

        features[typeof(ICustomFeature)] = second;
        Assert.Same(second, features.Get<ICustomFeature>());
        Assert.Single(features, pair => pair.Key == typeof(ICustomFeature));

        revision = features.Revision;
        features.Set<ICustomFeature>(null);
        Assert.Null(features.Get<ICustomFeature>());
        Assert.DoesNotContain(features, pair => pair.Key == typeof(ICustomFeature));
        Assert.True(features.Revision > revision);
        Assert.NotNull(features.Get<OtherFeature<int>>());
    });

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public Task ATransportFeature_CanBeReplacedByMiddleware(TransportKind kind) => OnAcceptedConnectionAsync(kind, (connection, client) =>
    {
        IFeatureCollection features = connection.Features;
        ItemsFeature replacement = new();

        features.Set<IConnectionItemsFeature>(replacement);

        Assert.Same(replacement, features.Get<IConnectionItemsFeature>());
        KeyValuePair<Type, object> listed = Assert.Single(features, pair => pair.Key == typeof(IConnectionItemsFeature));
        Assert.Same(replacement, listed.Value);
        Assert.Single(features, pair => pair.Key == typeof(IConnectionIdFeature));
    });

    [Theory]
    [MemberData(nameof(Transports.MNet), MemberType = typeof(Transports))]
    public Task Features_RejectANullKey(TransportKind kind) => OnAcceptedConnectionAsync(kind, (connection, client) =>
    {
        Assert.Throws<ArgumentNullException>(() => connection.Features[null!]);
        Assert.Throws<ArgumentNullException>(() => connection.Features[null!] = new CustomFeature());
    });

    private static async Task OnAcceptedConnectionAsync(TransportKind kind, Action<ConnectionContext, Socket> check)
    {
        await using ListenerScope scope = await ListenerScope.StartAsync(kind);
        using Socket client = await scope.ConnectAsync();
        ConnectionContext connection = await scope.AcceptAsync();
        try
        {
            check(connection, client);
        }
        finally
        {
            await connection.DisposeAsync();
        }
    }

    private interface ICustomFeature;

    private sealed class CustomFeature : ICustomFeature;

    private sealed class OtherFeature<T>;

    private sealed class ItemsFeature : IConnectionItemsFeature
    {
        public IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
    }
}

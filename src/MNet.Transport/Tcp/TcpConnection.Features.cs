using System.Buffers;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace MNet.Transport.Tcp;

/// <summary>The features Kestrel and connection middleware look for, all served by the connection itself.</summary>
internal abstract partial class TcpConnection :
    IConnectionIdFeature,
    IConnectionTransportFeature,
    IConnectionItemsFeature,
    IConnectionLifetimeFeature,
    IConnectionEndPointFeature,
    IMemoryPoolFeature
{
    private string? _connectionId;
    private IDictionary<object, object?>? _items;
    private IFeatureCollection? _features;

    public override string ConnectionId
    {
        get => _connectionId ??= ConnectionIdGenerator.Next();
        set => _connectionId = value;
    }

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new ConnectionItems();
        set => _items = value;
    }

    public override IFeatureCollection Features => _features ??= CreateFeatures();

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public MemoryPool<byte> MemoryPool => Settings.MemoryPool;

    void IConnectionLifetimeFeature.Abort() => Abort(new ConnectionAbortedException("The connection was aborted by the application."));

    private FeatureCollection CreateFeatures()
    {
        FeatureCollection features = new(initialCapacity: 6);
        features.Set<IConnectionIdFeature>(this);
        features.Set<IConnectionTransportFeature>(this);
        features.Set<IConnectionItemsFeature>(this);
        features.Set<IConnectionLifetimeFeature>(this);
        features.Set<IConnectionEndPointFeature>(this);
        features.Set<IMemoryPoolFeature>(this);
        return features;
    }
}

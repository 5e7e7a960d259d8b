// The m_net chann_web example on ASP.NET Core: the same app on the MNet transport or on Kestrel's Sockets transport.
//   dotnet run -c Release --project samples/WebServer [-- --transport mnet|sockets] [--urls http://127.0.0.1:8080]
using System.Text.Json.Serialization;
using WebServer;

WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(args);
string transport = builder.Configuration["transport"] ?? "mnet";
switch (transport)
{
    case "mnet":
        builder.WebHost.UseMNetTransport();
        break;
    case "sockets":
        break;
    default:
        Console.Error.WriteLine($"Unknown --transport '{transport}': use mnet or sockets.");
        return 2;
}

if (builder.Configuration["urls"] is null)
{
    builder.WebHost.UseUrls("http://127.0.0.1:8080");
}
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.ConfigureHttpJsonOptions(options => options.SerializerOptions.TypeInfoResolverChain.Insert(0, SampleJsonContext.Default));

byte[] readme = await File.ReadAllBytesAsync(ReadmeLocator.Find());

WebApplication app = builder.Build();
app.MapGet("/plaintext", () => "Hello, World!");
app.MapGet("/json", () => new Greeting("Hello, World!"));
app.MapGet("/", () => Results.Bytes(readme, "text/plain; charset=utf-8"));

await app.StartAsync();
Console.WriteLine($"WebServer on the {transport} transport, listening on {string.Join(", ", app.Urls)}");
await app.WaitForShutdownAsync();
return 0;

internal sealed record Greeting(string Message);

[JsonSerializable(typeof(Greeting))]
internal sealed partial class SampleJsonContext : JsonSerializerContext;

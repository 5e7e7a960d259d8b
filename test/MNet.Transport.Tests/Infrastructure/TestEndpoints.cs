using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>The endpoints the HTTP functional suite talks to.</summary>
public static class TestEndpoints
{
    public const string Hello = "Hello, World!";

    /// <summary>The byte at <paramref name="index"/> of the download pattern: not periodic at any power of two.</summary>
    public static byte PatternByte(long index) => (byte)((index * 31) + (index / 251));

    public static void Map(WebApplication app)
    {
        app.MapGet("/hello", (HttpContext context) => WriteAsync(context, Hello));
        app.MapGet("/echo-query", (HttpContext context) => WriteAsync(context, context.Request.QueryString.Value ?? ""));
        app.MapGet("/transport", (HttpContext context) =>
            WriteAsync(context, context.Features.Get<IConnectionIdFeature>()?.GetType().Name ?? "none"));
        app.MapPost("/echo", async (HttpContext context) =>
        {
            using MemoryStream body = new();
            await context.Request.Body.CopyToAsync(body);
            context.Response.ContentLength = body.Length;
            await context.Response.Body.WriteAsync(body.ToArray());
        });
        app.MapPost("/sha256", async (HttpContext context) =>
        {
            using IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] buffer = new byte[16384];
            int read;
            long total = 0;
            while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                total += read;
            }
            await WriteAsync(context, $"{total}:{Convert.ToHexString(hash.GetHashAndReset())}");
        });
        app.MapGet("/download/{length:long}", async (HttpContext context, long length) =>
        {
            context.Response.ContentLength = length;
            byte[] chunk = new byte[65536];
            for (long sent = 0; sent < length;)
            {
                int count = (int)Math.Min(chunk.Length, length - sent);
                for (int i = 0; i < count; i++)
                {
                    chunk[i] = PatternByte(sent + i);
                }
                await context.Response.Body.WriteAsync(chunk.AsMemory(0, count));
                sent += count;
            }
        });
    }

    public static Task WriteAsync(HttpContext context, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        context.Response.ContentType = "text/plain";
        context.Response.ContentLength = bytes.Length;
        return context.Response.Body.WriteAsync(bytes).AsTask();
    }
}

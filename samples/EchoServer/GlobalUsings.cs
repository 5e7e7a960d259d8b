global using Microsoft.AspNetCore.Connections;
global using Microsoft.Extensions.DependencyInjection;
global using Microsoft.Extensions.Logging;
global using Samples;

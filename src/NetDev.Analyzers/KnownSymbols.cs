using System.Collections.Concurrent;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace NetDev.Analyzers;

/// <summary>The NetDev types the rules are about, resolved once per compilation.</summary>
/// <remarks><b>Invariants.</b> <see cref="SkBuff"/> is never null: without it there is nothing to analyze
/// and <see cref="TryCreate"/> returns null. The ownership cache only grows and maps a parameter to a
/// value that depends on declarations alone, so concurrent callers may race on it harmlessly.</remarks>
internal sealed class KnownSymbols
{
    private readonly ConcurrentDictionary<IParameterSymbol, bool> _takesOwnership = new(SymbolEqualityComparer.Default);

    private KnownSymbols(INamedTypeSymbol skBuff, INamedTypeSymbol? takesOwnership, INamedTypeSymbol? deviceOperations, INamedTypeSymbol? txResult)
    {
        SkBuff = skBuff;
        TakesOwnershipAttribute = takesOwnership;
        DeviceOperations = deviceOperations;
        TxResult = txResult;
    }

    public INamedTypeSymbol SkBuff { get; }

    public INamedTypeSymbol? TakesOwnershipAttribute { get; }

    /// <summary>The open generic <c>IDeviceOperations&lt;TSelf&gt;</c>.</summary>
    public INamedTypeSymbol? DeviceOperations { get; }

    public INamedTypeSymbol? TxResult { get; }

    public static KnownSymbols? TryCreate(Compilation compilation)
    {
        var skBuff = compilation.GetTypeByMetadataName("NetDev.SkBuff");
        return skBuff is null
            ? null
            : new KnownSymbols(
                skBuff,
                compilation.GetTypeByMetadataName("NetDev.TakesOwnershipAttribute"),
                compilation.GetTypeByMetadataName("NetDev.IDeviceOperations`1"),
                compilation.GetTypeByMetadataName("NetDev.TxResult"));
    }

    public bool IsSkBuff(ITypeSymbol? type) => type is not null && SymbolEqualityComparer.Default.Equals(type, SkBuff);

    /// <summary>
    /// Whether the parameter takes ownership: it carries [TakesOwnership], or the member it overrides
    /// or implements has it on the same parameter.
    /// </summary>
    public bool TakesOwnership(IParameterSymbol parameter)
    {
        if (TakesOwnershipAttribute is null)
        {
            return false;
        }
        return _takesOwnership.GetOrAdd(parameter, p => ComputeTakesOwnership(p, depth: 0));
    }

    private bool ComputeTakesOwnership(IParameterSymbol parameter, int depth)
    {
        if (parameter.GetAttributes().Any(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, TakesOwnershipAttribute)))
        {
            return true;
        }
        // Inheritance chains are short; the bound only guards against malformed metadata.
        if (depth > 16 || parameter.ContainingSymbol is not IMethodSymbol method)
        {
            return false;
        }
        var ordinal = parameter.Ordinal;
        if (method.OverriddenMethod is { } overridden && ordinal < overridden.Parameters.Length
            && ComputeTakesOwnership(overridden.Parameters[ordinal], depth + 1))
        {
            return true;
        }
        foreach (var implemented in ImplementedInterfaceMethods(method))
        {
            if (ordinal < implemented.Parameters.Length && ComputeTakesOwnership(implemented.Parameters[ordinal], depth + 1))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Whether <paramref name="method"/> is a driver's <c>IDeviceOperations&lt;T&gt;.StartXmit</c>.</summary>
    public bool IsStartXmit(IMethodSymbol method)
    {
        if (DeviceOperations is null || method.Name != "StartXmit" && method.MethodKind != MethodKind.ExplicitInterfaceImplementation)
        {
            return false;
        }
        foreach (var implemented in ImplementedInterfaceMethods(method))
        {
            if (implemented.Name == "StartXmit"
                && SymbolEqualityComparer.Default.Equals(implemented.ContainingType.OriginalDefinition, DeviceOperations))
            {
                return true;
            }
        }
        return false;
    }

    private static System.Collections.Generic.IEnumerable<IMethodSymbol> ImplementedInterfaceMethods(IMethodSymbol method)
    {
        foreach (var explicitImplementation in method.ExplicitInterfaceImplementations)
        {
            yield return explicitImplementation;
        }
        var type = method.ContainingType;
        if (type is null || method.MethodKind != MethodKind.Ordinary)
        {
            yield break;
        }
        foreach (var candidateInterface in type.AllInterfaces)
        {
            foreach (var member in candidateInterface.GetMembers(method.Name))
            {
                if (member is IMethodSymbol interfaceMethod
                    && SymbolEqualityComparer.Default.Equals(type.FindImplementationForInterfaceMember(interfaceMethod), method))
                {
                    yield return interfaceMethod;
                }
            }
        }
    }
}

using System;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace NetDev.Analyzers;

/// <summary>What a variable may hold at a program point; a set, because paths that meet are joined.</summary>
[Flags]
internal enum Ownership : byte
{
    None = 0,

    /// <summary>No frame this method must release: unassigned, default, or read from a field or property.</summary>
    Unowned = 1,

    /// <summary>A frame lent by the caller: a parameter without [TakesOwnership].</summary>
    Borrowed = 2,

    /// <summary>A live frame this method must release or hand on.</summary>
    Owned = 4,

    /// <summary>A frame released (Consume, Drop) or handed to a [TakesOwnership] parameter: dead.</summary>
    Released = 8,

    /// <summary>A live frame whose ownership went elsewhere: stored, returned or copied to another variable.</summary>
    Kept = 16,
}

/// <summary>
/// The ownership of every tracked variable at one program point, with where each may have been released
/// (for messages). A value of the data-flow lattice: join is a per-variable union.
/// </summary>
/// <remarks><b>Invariants.</b> Both arrays have one entry per tracked entity of the analysis that made the
/// state; a state that was handed to another block is never changed again (callers <see cref="Clone"/>).</remarks>
internal sealed class OwnershipState : IEquatable<OwnershipState>
{
    private readonly Ownership[] _flags;
    private readonly ImmutableHashSet<SyntaxNode>[] _releases;

    public OwnershipState(int count)
    {
        _flags = new Ownership[count];
        _releases = new ImmutableHashSet<SyntaxNode>[count];
        for (var i = 0; i < count; i++)
        {
            _releases[i] = ImmutableHashSet<SyntaxNode>.Empty;
        }
    }

    private OwnershipState(Ownership[] flags, ImmutableHashSet<SyntaxNode>[] releases)
    {
        _flags = flags;
        _releases = releases;
    }

    public Ownership this[int entity] => _flags[entity];

    public ImmutableHashSet<SyntaxNode> ReleasesOf(int entity) => _releases[entity];

    public void Set(int entity, Ownership flags)
    {
        _flags[entity] = flags;
        if ((flags & Ownership.Released) == 0)
        {
            _releases[entity] = ImmutableHashSet<SyntaxNode>.Empty;
        }
    }

    public void SetReleased(int entity, SyntaxNode releasedAt)
    {
        _flags[entity] = Ownership.Released;
        _releases[entity] = ImmutableHashSet.Create(releasedAt);
    }

    /// <summary>Copies another entity's state (a copy of the handle holds the same frame).</summary>
    public void CopyFrom(int target, int source)
    {
        _flags[target] = _flags[source];
        _releases[target] = _releases[source];
    }

    public OwnershipState Clone() => new((Ownership[])_flags.Clone(), (ImmutableHashSet<SyntaxNode>[])_releases.Clone());

    /// <summary>Joins <paramref name="other"/> into this state; returns whether anything changed.</summary>
    public bool JoinWith(OwnershipState other)
    {
        var changed = false;
        for (var i = 0; i < _flags.Length; i++)
        {
            var flags = _flags[i] | other._flags[i];
            if (flags != _flags[i])
            {
                _flags[i] = flags;
                changed = true;
            }
            if (!other._releases[i].IsSubsetOf(_releases[i]))
            {
                _releases[i] = _releases[i].Union(other._releases[i]);
                changed = true;
            }
        }
        return changed;
    }

    public bool Equals(OwnershipState? other)
    {
        if (other is null || other._flags.Length != _flags.Length)
        {
            return false;
        }
        for (var i = 0; i < _flags.Length; i++)
        {
            if (_flags[i] != other._flags[i] || !_releases[i].SetEquals(other._releases[i]))
            {
                return false;
            }
        }
        return true;
    }

    public override bool Equals(object? obj) => obj is OwnershipState other && Equals(other);

    public override int GetHashCode()
    {
        var hash = 17;
        for (var i = 0; i < _flags.Length; i++)
        {
            hash = unchecked(hash * 31 + (int)_flags[i] * 7 + _releases[i].Count);
        }
        return hash;
    }
}

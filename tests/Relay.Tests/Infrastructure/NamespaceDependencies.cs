using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace Relay.Tests.Infrastructure;

/// <summary>
/// Which namespaces of one assembly use which others, read from its metadata and IL: base types and interfaces,
/// field, property, event and method signatures (locals included), generic constraints, custom attributes' types, and
/// every type, method and field a method body refers to. Only the assembly's own types count; a nested type (and so
/// every compiler-made closure, state machine and generated logger) belongs to the namespace of the type it is in.
/// </summary>
internal sealed class NamespaceDependencies
{
    private readonly MetadataReader _metadata;
    private readonly PEReader _pe;
    private readonly SignatureTypes _signatures;
    private readonly Dictionary<(string From, string To), string> _edges = [];

    private NamespaceDependencies(PEReader pe)
    {
        _pe = pe;
        _metadata = pe.GetMetadataReader();
        _signatures = new SignatureTypes();
    }

    /// <summary>Every namespace that declares a type (below <paramref name="prefix"/>).</summary>
    public IReadOnlySet<string> Namespaces { get; private set; } = new HashSet<string>();

    /// <summary>Each use of one namespace by another, with one example ("Type -> Type") to say where it is.</summary>
    public IReadOnlyDictionary<(string From, string To), string> Edges => _edges;

    /// <summary>Reads the assembly at <paramref name="path"/>; only namespaces starting with <paramref name="prefix"/>
    /// count, and they are named without it.</summary>
    public static NamespaceDependencies Read(string path, string prefix)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        var dependencies = new NamespaceDependencies(pe);
        dependencies.Scan(prefix);
        return dependencies;
    }

    private void Scan(string prefix)
    {
        var namespaces = new HashSet<string>(StringComparer.Ordinal);
        foreach (var handle in _metadata.TypeDefinitions)
        {
            var from = NamespaceOf(handle, prefix);
            if (from is null) continue;
            namespaces.Add(from);
            var uses = new HashSet<TypeDefinitionHandle>();
            CollectTypeUses(handle, uses);
            foreach (var used in uses)
            {
                var to = NamespaceOf(used, prefix);
                if (to is null || to == from) continue;
                _edges.TryAdd((from, to), $"{FullName(handle)} -> {FullName(used)}");
            }
        }
        Namespaces = namespaces;
    }

    private void CollectTypeUses(TypeDefinitionHandle handle, HashSet<TypeDefinitionHandle> uses)
    {
        var type = _metadata.GetTypeDefinition(handle);
        AddEntity(type.BaseType, uses);
        foreach (var implementation in type.GetInterfaceImplementations())
        {
            AddEntity(_metadata.GetInterfaceImplementation(implementation).Interface, uses);
        }
        AddAttributes(type.GetCustomAttributes(), uses);
        AddConstraints(type.GetGenericParameters(), uses);
        foreach (var fieldHandle in type.GetFields())
        {
            var field = _metadata.GetFieldDefinition(fieldHandle);
            uses.UnionWith(field.DecodeSignature(_signatures, null));
            AddAttributes(field.GetCustomAttributes(), uses);
        }
        foreach (var propertyHandle in type.GetProperties())
        {
            var property = _metadata.GetPropertyDefinition(propertyHandle);
            AddMethodSignature(property.DecodeSignature(_signatures, null), uses);
            AddAttributes(property.GetCustomAttributes(), uses);
        }
        foreach (var eventHandle in type.GetEvents())
        {
            AddEntity(_metadata.GetEventDefinition(eventHandle).Type, uses);
        }
        foreach (var methodHandle in type.GetMethods())
        {
            var method = _metadata.GetMethodDefinition(methodHandle);
            AddMethodSignature(method.DecodeSignature(_signatures, null), uses);
            AddAttributes(method.GetCustomAttributes(), uses);
            AddConstraints(method.GetGenericParameters(), uses);
            foreach (var parameter in method.GetParameters())
            {
                AddAttributes(_metadata.GetParameter(parameter).GetCustomAttributes(), uses);
            }
            if (method.RelativeVirtualAddress != 0) AddBody(_pe.GetMethodBody(method.RelativeVirtualAddress), uses);
        }
    }

    private void AddBody(MethodBodyBlock body, HashSet<TypeDefinitionHandle> uses)
    {
        if (!body.LocalSignature.IsNil)
        {
            uses.UnionWith(_metadata.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(_signatures, null).SelectMany(t => t));
        }
        foreach (var region in body.ExceptionRegions) AddEntity(region.CatchType, uses);
        var il = body.GetILReader();
        while (il.RemainingBytes > 0)
        {
            var code = il.ReadByte();
            var opCode = code == 0xFE ? TwoByteOpCodes[il.ReadByte()] : OneByteOpCodes[code];
            switch (opCode.OperandType)
            {
                case OperandType.InlineMethod:
                case OperandType.InlineField:
                case OperandType.InlineType:
                case OperandType.InlineTok:
                    AddEntity(MetadataTokens.EntityHandle(il.ReadInt32()), uses);
                    break;
                case OperandType.InlineSig:
                    uses.UnionWith(SignatureUses(_metadata.GetStandaloneSignature((StandaloneSignatureHandle)MetadataTokens.EntityHandle(il.ReadInt32()))));
                    break;
                case OperandType.InlineSwitch:
                    var targets = il.ReadInt32();
                    il.Offset += 4 * targets;
                    break;
                default:
                    il.Offset += OperandSize(opCode.OperandType);
                    break;
            }
        }
    }

    private IEnumerable<TypeDefinitionHandle> SignatureUses(StandaloneSignature signature) =>
        signature.GetKind() == StandaloneSignatureKind.LocalVariables
            ? signature.DecodeLocalSignature(_signatures, null).SelectMany(t => t)
            : MethodSignatureUses(signature.DecodeMethodSignature(_signatures, null));

    private static IEnumerable<TypeDefinitionHandle> MethodSignatureUses(MethodSignature<ImmutableArray<TypeDefinitionHandle>> signature) =>
        signature.ReturnType.Concat(signature.ParameterTypes.SelectMany(t => t));

    private static void AddMethodSignature(MethodSignature<ImmutableArray<TypeDefinitionHandle>> signature, HashSet<TypeDefinitionHandle> uses) =>
        uses.UnionWith(MethodSignatureUses(signature));

    private void AddAttributes(CustomAttributeHandleCollection attributes, HashSet<TypeDefinitionHandle> uses)
    {
        foreach (var attribute in attributes) AddEntity(_metadata.GetCustomAttribute(attribute).Constructor, uses);
    }

    private void AddConstraints(GenericParameterHandleCollection parameters, HashSet<TypeDefinitionHandle> uses)
    {
        foreach (var parameter in parameters)
        {
            foreach (var constraint in _metadata.GetGenericParameter(parameter).GetConstraints())
            {
                AddEntity(_metadata.GetGenericParameterConstraint(constraint).Type, uses);
            }
        }
    }

    /// <summary>The own types a type, member or signature token stands for (a member counts as its declaring type,
    /// and its signature's types).</summary>
    private void AddEntity(EntityHandle handle, HashSet<TypeDefinitionHandle> uses)
    {
        if (handle.IsNil) return;
        switch (handle.Kind)
        {
            case HandleKind.TypeDefinition:
                uses.Add((TypeDefinitionHandle)handle);
                break;
            case HandleKind.TypeSpecification:
                uses.UnionWith(_metadata.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(_signatures, null));
                break;
            case HandleKind.MethodDefinition:
                var method = _metadata.GetMethodDefinition((MethodDefinitionHandle)handle);
                uses.Add(method.GetDeclaringType());
                AddMethodSignature(method.DecodeSignature(_signatures, null), uses);
                break;
            case HandleKind.FieldDefinition:
                var field = _metadata.GetFieldDefinition((FieldDefinitionHandle)handle);
                uses.Add(field.GetDeclaringType());
                uses.UnionWith(field.DecodeSignature(_signatures, null));
                break;
            case HandleKind.MemberReference:
                var member = _metadata.GetMemberReference((MemberReferenceHandle)handle);
                AddEntity(member.Parent, uses);
                if (member.GetKind() == MemberReferenceKind.Method) AddMethodSignature(member.DecodeMethodSignature(_signatures, null), uses);
                else uses.UnionWith(member.DecodeFieldSignature(_signatures, null));
                break;
            case HandleKind.MethodSpecification:
                var specification = _metadata.GetMethodSpecification((MethodSpecificationHandle)handle);
                AddEntity(specification.Method, uses);
                uses.UnionWith(specification.DecodeSignature(_signatures, null).SelectMany(t => t));
                break;
        }
    }

    /// <summary>The type's namespace below <paramref name="prefix"/> (a nested type's is its outermost type's), or null
    /// for types outside it (the global namespace, generated helpers).</summary>
    private string? NamespaceOf(TypeDefinitionHandle handle, string prefix)
    {
        var type = _metadata.GetTypeDefinition(handle);
        while (type.IsNested) type = _metadata.GetTypeDefinition(type.GetDeclaringType());
        var name = _metadata.GetString(type.Namespace);
        return name.StartsWith(prefix, StringComparison.Ordinal) ? name[prefix.Length..] : null;
    }

    private string FullName(TypeDefinitionHandle handle)
    {
        var type = _metadata.GetTypeDefinition(handle);
        var name = _metadata.GetString(type.Name);
        return type.IsNested ? FullName(type.GetDeclaringType()) + "+" + name : _metadata.GetString(type.Namespace) + "." + name;
    }

    private static int OperandSize(OperandType operand) => operand switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        _ => 4, // InlineBrTarget, InlineI, InlineString, ShortInlineR
    };

    private static readonly OpCode[] OneByteOpCodes = new OpCode[256];
    private static readonly OpCode[] TwoByteOpCodes = new OpCode[256];

#pragma warning disable CA1810 // the tables are filled from OpCodes' fields, once
    static NamespaceDependencies()
#pragma warning restore CA1810
    {
        foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var opCode = (OpCode)field.GetValue(null)!;
            var value = (ushort)opCode.Value;
            if (opCode.Size == 1) OneByteOpCodes[value] = opCode;
            else TwoByteOpCodes[value & 0xFF] = opCode;
        }
    }

    /// <summary>Decodes a signature into the own types it mentions.</summary>
    private sealed class SignatureTypes : ISignatureTypeProvider<ImmutableArray<TypeDefinitionHandle>, object?>
    {
        private static readonly ImmutableArray<TypeDefinitionHandle> None = [];

        public ImmutableArray<TypeDefinitionHandle> GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => [handle];

        public ImmutableArray<TypeDefinitionHandle> GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => None;

        public ImmutableArray<TypeDefinitionHandle> GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, genericContext);

        public ImmutableArray<TypeDefinitionHandle> GetGenericInstantiation(ImmutableArray<TypeDefinitionHandle> genericType, ImmutableArray<ImmutableArray<TypeDefinitionHandle>> typeArguments) =>
            [.. genericType, .. typeArguments.SelectMany(t => t)];

        public ImmutableArray<TypeDefinitionHandle> GetModifiedType(ImmutableArray<TypeDefinitionHandle> modifier, ImmutableArray<TypeDefinitionHandle> unmodifiedType, bool isRequired) =>
            [.. modifier, .. unmodifiedType];

        public ImmutableArray<TypeDefinitionHandle> GetFunctionPointerType(MethodSignature<ImmutableArray<TypeDefinitionHandle>> signature) =>
            [.. MethodSignatureUses(signature)];

        public ImmutableArray<TypeDefinitionHandle> GetArrayType(ImmutableArray<TypeDefinitionHandle> elementType, ArrayShape shape) => elementType;

        public ImmutableArray<TypeDefinitionHandle> GetSZArrayType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;

        public ImmutableArray<TypeDefinitionHandle> GetByReferenceType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;

        public ImmutableArray<TypeDefinitionHandle> GetPointerType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;

        public ImmutableArray<TypeDefinitionHandle> GetPinnedType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;

        public ImmutableArray<TypeDefinitionHandle> GetGenericMethodParameter(object? genericContext, int index) => None;

        public ImmutableArray<TypeDefinitionHandle> GetGenericTypeParameter(object? genericContext, int index) => None;

        public ImmutableArray<TypeDefinitionHandle> GetPrimitiveType(PrimitiveTypeCode typeCode) => None;
    }
}

from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GroupVersionResource(_message.Message):
    __slots__ = ("group", "version", "resource")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    group: str
    version: str
    resource: str
    def __init__(self, group: _Optional[str] = ..., version: _Optional[str] = ..., resource: _Optional[str] = ...) -> None: ...

class ObjectRef(_message.Message):
    __slots__ = ("gvr", "namespace", "name", "resource_version", "subresource")
    GVR_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SUBRESOURCE_FIELD_NUMBER: _ClassVar[int]
    gvr: GroupVersionResource
    namespace: str
    name: str
    resource_version: str
    subresource: str
    def __init__(self, gvr: _Optional[_Union[GroupVersionResource, _Mapping]] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ..., resource_version: _Optional[str] = ..., subresource: _Optional[str] = ...) -> None: ...

class WriteOptions(_message.Message):
    __slots__ = ("dry_run", "field_manager", "field_validation")
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    FIELD_MANAGER_FIELD_NUMBER: _ClassVar[int]
    FIELD_VALIDATION_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    field_manager: str
    field_validation: str
    def __init__(self, dry_run: _Optional[bool] = ..., field_manager: _Optional[str] = ..., field_validation: _Optional[str] = ...) -> None: ...

class CreateRequest(_message.Message):
    __slots__ = ("ref", "object", "options")
    REF_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    ref: ObjectRef
    object: bytes
    options: WriteOptions
    def __init__(self, ref: _Optional[_Union[ObjectRef, _Mapping]] = ..., object: _Optional[bytes] = ..., options: _Optional[_Union[WriteOptions, _Mapping]] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: ObjectRef
    def __init__(self, ref: _Optional[_Union[ObjectRef, _Mapping]] = ...) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ("ref", "label_selector", "field_selector", "limit", "continue_token")
    REF_FIELD_NUMBER: _ClassVar[int]
    LABEL_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    FIELD_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CONTINUE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ref: ObjectRef
    label_selector: str
    field_selector: str
    limit: int
    continue_token: str
    def __init__(self, ref: _Optional[_Union[ObjectRef, _Mapping]] = ..., label_selector: _Optional[str] = ..., field_selector: _Optional[str] = ..., limit: _Optional[int] = ..., continue_token: _Optional[str] = ...) -> None: ...

class UpdateRequest(_message.Message):
    __slots__ = ("ref", "object", "options")
    REF_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    ref: ObjectRef
    object: bytes
    options: WriteOptions
    def __init__(self, ref: _Optional[_Union[ObjectRef, _Mapping]] = ..., object: _Optional[bytes] = ..., options: _Optional[_Union[WriteOptions, _Mapping]] = ...) -> None: ...

class PatchRequest(_message.Message):
    __slots__ = ("ref", "patch_type", "patch", "options", "force")
    REF_FIELD_NUMBER: _ClassVar[int]
    PATCH_TYPE_FIELD_NUMBER: _ClassVar[int]
    PATCH_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    ref: ObjectRef
    patch_type: str
    patch: bytes
    options: WriteOptions
    force: bool
    def __init__(self, ref: _Optional[_Union[ObjectRef, _Mapping]] = ..., patch_type: _Optional[str] = ..., patch: _Optional[bytes] = ..., options: _Optional[_Union[WriteOptions, _Mapping]] = ..., force: _Optional[bool] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("ref", "delete_options")
    REF_FIELD_NUMBER: _ClassVar[int]
    DELETE_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    ref: ObjectRef
    delete_options: bytes
    def __init__(self, ref: _Optional[_Union[ObjectRef, _Mapping]] = ..., delete_options: _Optional[bytes] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("ref", "label_selector", "field_selector", "allow_bookmarks")
    REF_FIELD_NUMBER: _ClassVar[int]
    LABEL_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    FIELD_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    ALLOW_BOOKMARKS_FIELD_NUMBER: _ClassVar[int]
    ref: ObjectRef
    label_selector: str
    field_selector: str
    allow_bookmarks: bool
    def __init__(self, ref: _Optional[_Union[ObjectRef, _Mapping]] = ..., label_selector: _Optional[str] = ..., field_selector: _Optional[str] = ..., allow_bookmarks: _Optional[bool] = ...) -> None: ...

class Object(_message.Message):
    __slots__ = ("json", "warnings")
    JSON_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    json: bytes
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, json: _Optional[bytes] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class ObjectList(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: bytes
    def __init__(self, json: _Optional[bytes] = ...) -> None: ...

class WatchEvent(_message.Message):
    __slots__ = ("type", "object")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    type: str
    object: bytes
    def __init__(self, type: _Optional[str] = ..., object: _Optional[bytes] = ...) -> None: ...

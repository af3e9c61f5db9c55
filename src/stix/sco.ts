/**
 * Property tables of the STIX Cyber-observable Objects (STIX 2.1 section 6) and of their
 * predefined extensions.
 */

import type { ObjectSpec } from './common.ts';
import {
  isDomainName,
  isEmailAddress,
  isIpv4Value,
  isIpv6Value,
  isLanguageTag,
  isMacAddress,
} from './formats.ts';
import { type ProblemList, show } from './problems.ts';
import {
  type JsonObject,
  type ValueCheck,
  atLeastOneOf,
  binary,
  boolean,
  count,
  dictionary,
  encodingOf,
  enumOf,
  float,
  formatted,
  hashes,
  hex,
  integer,
  listOf,
  notEmptyBeyond,
  objectOf,
  openVocab,
  ref,
  refTo,
  refs,
  required,
  requires,
  string,
  stringOr,
  timeOrder,
  timestamp,
  url,
} from './properties.ts';
import { SCO_OR_CUSTOM } from './types.ts';

const strings = listOf(string);
const anyHashes = hashes();
const artifact = refTo('artifact');
const fileOrDirectory = refTo('file', 'directory');
const emailAddr = refTo('email-addr');
const userAccount = refTo('user-account');
const networkTraffic = refTo('network-traffic');
const process = refTo('process');

/** Checks for a timestamp precise to the second, without fractional digits (section 6.7.6). */
const secondsTimestamp: ValueCheck = (value, path, problems) => {
  timestamp(value, path, problems);
  if (typeof value === 'string' && value.includes('.')) {
    problems.add(
      path,
      'timestamp-precision',
      `must be precise to the second, without a fraction, got ${show(value)}`,
    );
  }
};

/** Checks that an Artifact has its bytes inline or at a URL, not both (section 6.1). */
function artifactContent(object: JsonObject, _path: string, problems: ProblemList): void {
  const hasPayload = Object.hasOwn(object, 'payload_bin');
  const hasUrl = Object.hasOwn(object, 'url');
  if (hasPayload && hasUrl) {
    problems.add('url', 'exclusive', 'must not be present together with payload_bin');
  } else if (!hasPayload && !hasUrl) {
    problems.add(undefined, 'at-least-one', 'an artifact must have payload_bin or url');
  }
}

/** Checks that the body properties of an email message match is_multipart (section 6.6.1). */
function emailBody(object: JsonObject, _path: string, problems: ProblemList): void {
  if (object.is_multipart === true && Object.hasOwn(object, 'body')) {
    problems.add('body', 'exclusive', 'must not be used when is_multipart is true');
  }
  if (object.is_multipart === false && Object.hasOwn(object, 'body_multipart')) {
    problems.add('body_multipart', 'exclusive', 'must not be used when is_multipart is false');
  }
}

/** Traffic that is still active has no end (section 6.12.1). */
function activeTraffic(object: JsonObject, _path: string, problems: ProblemList): void {
  if (object.is_active === true && Object.hasOwn(object, 'end')) {
    problems.add('end', 'exclusive', 'must not be present when is_active is true');
  }
}

const HIVE_ABBREVIATION = /^(?:HKLM|HKCU|HKCR|HKCC|HKU)(?:\\|$)/i;

/** Registry keys spell out the hive: HKEY_LOCAL_MACHINE, not HKLM (section 6.17.1). */
const registryKey = formatted(
  (s) => !HIVE_ABBREVIATION.test(s),
  'a key whose hive is spelled out (HKEY_LOCAL_MACHINE, not HKLM)',
);

/**
 * Checks for a CPE 2.3 formatted string (section 6.14.1): `cpe:2.3:`, the part (a, h, o,
 * * or -) and ten more components, 13 colon-separated fields in all. `\:` is an escaped
 * colon.
 */
function isCpe23(value: string): boolean {
  if (!value.startsWith('cpe:2.3:')) return false;
  const fields = value.split(/(?<!\\):/);
  if (fields.length !== 13) return false;
  return /^[aho*-]$/.test(fields[2] as string) && fields.every((f) => f.length > 0);
}

const mimePart = objectOf({
  name: 'email-mime-part-type',
  properties: {
    body: string,
    body_raw_ref: ref(refTo('artifact', 'file')),
    content_type: string,
    content_disposition: string,
  },
  constraints: [atLeastOneOf('body', 'body_raw_ref')],
});

const alternateDataStream = objectOf({
  name: 'alternate-data-stream-type',
  properties: { name: required(string), hashes: anyHashes, size: count },
});

const peOptionalHeader = objectOf({
  name: 'windows-pe-optional-header-type',
  properties: {
    magic_hex: hex,
    major_linker_version: integer(),
    minor_linker_version: integer(),
    size_of_code: count,
    size_of_initialized_data: count,
    size_of_uninitialized_data: count,
    address_of_entry_point: integer(),
    base_of_code: integer(),
    base_of_data: integer(),
    image_base: integer(),
    section_alignment: integer(),
    file_alignment: integer(),
    major_os_version: integer(),
    minor_os_version: integer(),
    major_image_version: integer(),
    minor_image_version: integer(),
    major_subsystem_version: integer(),
    minor_subsystem_version: integer(),
    win32_version_value_hex: hex,
    size_of_image: count,
    size_of_headers: count,
    checksum_hex: hex,
    subsystem_hex: hex,
    dll_characteristics_hex: hex,
    size_of_stack_reserve: count,
    size_of_stack_commit: count,
    size_of_heap_reserve: count,
    size_of_heap_commit: count,
    loader_flags_hex: hex,
    number_of_rva_and_sizes: integer(),
    hashes: anyHashes,
  },
  constraints: [notEmptyBeyond('windows-pe-optional-header-type')],
});

const peSection = objectOf({
  name: 'windows-pe-section-type',
  properties: { name: required(string), size: count, entropy: float(), hashes: anyHashes },
});

const FILE_EXTENSIONS: Record<string, ValueCheck> = {
  // Section 6.7.2.
  'archive-ext': objectOf({
    name: 'archive-ext',
    properties: { contains_refs: required(refs(fileOrDirectory)), comment: string },
  }),
  // Section 6.7.3.
  'ntfs-ext': objectOf({
    name: 'ntfs-ext',
    properties: { sid: string, alternate_data_streams: listOf(alternateDataStream) },
    constraints: [notEmptyBeyond('ntfs-ext')],
  }),
  // Section 6.7.4.
  'pdf-ext': objectOf({
    name: 'pdf-ext',
    properties: {
      version: string,
      is_optimized: boolean,
      document_info_dict: dictionary(string),
      pdfid0: string,
      pdfid1: string,
    },
    constraints: [notEmptyBeyond('pdf-ext')],
  }),
  // Section 6.7.5: EXIF values are integers or strings.
  'raster-image-ext': objectOf({
    name: 'raster-image-ext',
    properties: {
      image_height: integer(),
      image_width: integer(),
      bits_per_pixel: integer(),
      exif_tags: dictionary(stringOr(integer(), 'number')),
    },
    constraints: [notEmptyBeyond('raster-image-ext')],
  }),
  // Section 6.7.6.
  'windows-pebinary-ext': objectOf({
    name: 'windows-pebinary-ext',
    properties: {
      pe_type: required(openVocab),
      imphash: string,
      machine_hex: hex,
      number_of_sections: count,
      time_date_stamp: secondsTimestamp,
      pointer_to_symbol_table_hex: hex,
      number_of_symbols: count,
      size_of_optional_header: count,
      characteristics_hex: hex,
      file_header_hashes: anyHashes,
      optional_header: peOptionalHeader,
      sections: listOf(peSection),
    },
    constraints: [notEmptyBeyond('windows-pebinary-ext, besides pe_type,', ['pe_type'])],
  }),
};

const NETWORK_TRAFFIC_EXTENSIONS: Record<string, ValueCheck> = {
  // Section 6.12.2: each header maps to the list of its values.
  'http-request-ext': objectOf({
    name: 'http-request-ext',
    properties: {
      request_method: required(string),
      request_value: required(string),
      request_version: string,
      request_header: dictionary(strings),
      message_body_length: count,
      message_body_data_ref: ref(artifact),
    },
  }),
  // Section 6.12.3.
  'icmp-ext': objectOf({
    name: 'icmp-ext',
    properties: { icmp_type_hex: required(hex), icmp_code_hex: required(hex) },
  }),
  // Section 6.12.4.
  'socket-ext': objectOf({
    name: 'socket-ext',
    properties: {
      address_family: required(
        enumOf('network-socket-address-family-enum', [
          'AF_UNSPEC',
          'AF_INET',
          'AF_IPX',
          'AF_APPLETALK',
          'AF_NETBIOS',
          'AF_INET6',
          'AF_IRDA',
          'AF_BTH',
        ]),
      ),
      is_blocking: boolean,
      is_listening: boolean,
      options: dictionary(integer()),
      socket_type: enumOf('network-socket-type-enum', [
        'SOCK_STREAM',
        'SOCK_DGRAM',
        'SOCK_RAW',
        'SOCK_RDM',
        'SOCK_SEQPACKET',
      ]),
      socket_descriptor: count,
      socket_handle: integer(),
    },
  }),
  // Section 6.12.5.
  'tcp-ext': objectOf({
    name: 'tcp-ext',
    properties: { src_flags_hex: hex, dst_flags_hex: hex },
    constraints: [atLeastOneOf('src_flags_hex', 'dst_flags_hex')],
  }),
};

const PROCESS_EXTENSIONS: Record<string, ValueCheck> = {
  // Section 6.13.2. The OASIS schema and python-stix2 spell the title window_title; the
  // Errata 01 table spells it windows_title. Either name passes as a string.
  'windows-process-ext': objectOf({
    name: 'windows-process-ext',
    properties: {
      aslr_enabled: boolean,
      dep_enabled: boolean,
      priority: string,
      owner_sid: string,
      window_title: string,
      windows_title: string,
      startup_info: dictionary(),
      integrity_level: enumOf('windows-integrity-level-enum', ['low', 'medium', 'high', 'system']),
    },
    constraints: [notEmptyBeyond('windows-process-ext')],
  }),
  // Section 6.13.3.
  'windows-service-ext': objectOf({
    name: 'windows-service-ext',
    properties: {
      service_name: string,
      descriptions: strings,
      display_name: string,
      group_name: string,
      start_type: enumOf('windows-service-start-type-enum', [
        'SERVICE_AUTO_START',
        'SERVICE_BOOT_START',
        'SERVICE_DEMAND_START',
        'SERVICE_DISABLED',
        'SERVICE_SYSTEM_ALERT',
      ]),
      service_dll_refs: refs(refTo('file')),
      service_type: enumOf('windows-service-type-enum', [
        'SERVICE_KERNEL_DRIVER',
        'SERVICE_FILE_SYSTEM_DRIVER',
        'SERVICE_WIN32_OWN_PROCESS',
        'SERVICE_WIN32_SHARE_PROCESS',
      ]),
      service_status: enumOf('windows-service-status-enum', [
        'SERVICE_CONTINUE_PENDING',
        'SERVICE_PAUSE_PENDING',
        'SERVICE_PAUSED',
        'SERVICE_RUNNING',
        'SERVICE_START_PENDING',
        'SERVICE_STOP_PENDING',
        'SERVICE_STOPPED',
      ]),
    },
    constraints: [notEmptyBeyond('windows-service-ext')],
  }),
};

const USER_ACCOUNT_EXTENSIONS: Record<string, ValueCheck> = {
  // Section 6.16.2.
  'unix-account-ext': objectOf({
    name: 'unix-account-ext',
    properties: { gid: integer(), groups: strings, home_dir: string, shell: string },
    constraints: [notEmptyBeyond('unix-account-ext')],
  }),
};

const registryValue = objectOf({
  name: 'windows-registry-value-type',
  properties: {
    name: string,
    data: string,
    data_type: enumOf('windows-registry-datatype-enum', [
      'REG_NONE',
      'REG_SZ',
      'REG_EXPAND_SZ',
      'REG_BINARY',
      'REG_DWORD',
      'REG_DWORD_BIG_ENDIAN',
      'REG_DWORD_LITTLE_ENDIAN',
      'REG_LINK',
      'REG_MULTI_SZ',
      'REG_RESOURCE_LIST',
      'REG_FULL_RESOURCE_DESCRIPTION',
      'REG_RESOURCE_REQUIREMENTS_LIST',
      'REG_QWORD',
      'REG_INVALID_TYPE',
    ]),
  },
  constraints: [notEmptyBeyond('windows-registry-value-type')],
});

const x509V3Extensions = objectOf({
  name: 'x509-v3-extensions-type',
  properties: {
    basic_constraints: string,
    name_constraints: string,
    policy_constraints: string,
    key_usage: string,
    extended_key_usage: string,
    subject_key_identifier: string,
    authority_key_identifier: string,
    subject_alternative_name: string,
    issuer_alternative_name: string,
    subject_directory_attributes: string,
    crl_distribution_points: string,
    inhibit_any_policy: string,
    private_key_usage_period_not_before: timestamp,
    private_key_usage_period_not_after: timestamp,
    certificate_policies: string,
    policy_mappings: string,
  },
  constraints: [notEmptyBeyond('x509-v3-extensions-type')],
});

/** Common SCO properties that do not count as "a property of the object" (section 6). */
const SCO_COMMON = [
  'type',
  'id',
  'spec_version',
  'object_marking_refs',
  'granular_markings',
  'defanged',
];

export const SCO_SPECS: readonly ObjectSpec[] = [
  {
    type: 'artifact',
    category: 'sco',
    section: '6.1',
    properties: {
      mime_type: string,
      payload_bin: binary,
      url,
      hashes: anyHashes,
      encryption_algorithm: enumOf('encryption-algorithm-enum', [
        'AES-256-GCM',
        'ChaCha20-Poly1305',
        'mime-type-indicated',
      ]),
      decryption_key: string,
    },
    constraints: [
      artifactContent,
      requires('url', 'hashes'),
      requires('decryption_key', 'encryption_algorithm'),
    ],
  },
  {
    type: 'autonomous-system',
    category: 'sco',
    section: '6.2',
    properties: { number: required(integer()), name: string, rir: string },
  },
  {
    type: 'directory',
    category: 'sco',
    section: '6.3',
    properties: {
      path: required(string),
      path_enc: string,
      ctime: timestamp,
      mtime: timestamp,
      atime: timestamp,
      contains_refs: refs(fileOrDirectory),
    },
    constraints: [encodingOf('path')],
  },
  {
    type: 'domain-name',
    category: 'sco',
    section: '6.4',
    properties: {
      value: required(formatted(isDomainName, 'a domain name (RFC 1034, RFC 5890)')),
      resolves_to_refs: refs(refTo('ipv4-addr', 'ipv6-addr', 'domain-name')),
    },
  },
  {
    type: 'email-addr',
    category: 'sco',
    section: '6.5',
    properties: {
      value: required(formatted(isEmailAddress, 'an e-mail address (RFC 5322 addr-spec)')),
      display_name: string,
      belongs_to_ref: ref(userAccount),
    },
  },
  {
    type: 'email-message',
    category: 'sco',
    section: '6.6',
    properties: {
      is_multipart: required(boolean),
      date: timestamp,
      content_type: string,
      from_ref: ref(emailAddr),
      sender_ref: ref(emailAddr),
      to_refs: refs(emailAddr),
      cc_refs: refs(emailAddr),
      bcc_refs: refs(emailAddr),
      message_id: string,
      subject: string,
      received_lines: strings,
      additional_header_fields: dictionary(stringOr(strings, 'array')),
      body: string,
      body_multipart: listOf(mimePart),
      raw_email_ref: ref(artifact),
    },
    constraints: [emailBody],
  },
  {
    type: 'file',
    category: 'sco',
    section: '6.7',
    properties: {
      hashes: anyHashes,
      size: count,
      name: string,
      name_enc: string,
      magic_number_hex: hex,
      mime_type: string,
      ctime: timestamp,
      mtime: timestamp,
      atime: timestamp,
      parent_directory_ref: ref(refTo('directory')),
      contains_refs: refs(SCO_OR_CUSTOM),
      content_ref: ref(artifact),
    },
    constraints: [atLeastOneOf('hashes', 'name'), encodingOf('name')],
    extensions: FILE_EXTENSIONS,
  },
  {
    type: 'ipv4-addr',
    category: 'sco',
    section: '6.8',
    properties: {
      value: required(formatted(isIpv4Value, 'an IPv4 address, optionally with a CIDR prefix')),
      resolves_to_refs: refs(refTo('mac-addr')),
      belongs_to_refs: refs(refTo('autonomous-system')),
    },
  },
  {
    type: 'ipv6-addr',
    category: 'sco',
    section: '6.9',
    properties: {
      value: required(formatted(isIpv6Value, 'an IPv6 address, optionally with a CIDR prefix')),
      resolves_to_refs: refs(refTo('mac-addr')),
      belongs_to_refs: refs(refTo('autonomous-system')),
    },
  },
  {
    type: 'mac-addr',
    category: 'sco',
    section: '6.10',
    properties: {
      value: required(
        formatted(
          isMacAddress,
          'a colon-delimited, lowercase MAC-48 address such as 00:00:ab:cd:ef:01',
        ),
      ),
    },
  },
  {
    type: 'mutex',
    category: 'sco',
    section: '6.11',
    properties: { name: required(string) },
  },
  {
    type: 'network-traffic',
    category: 'sco',
    section: '6.12',
    properties: {
      start: timestamp,
      end: timestamp,
      is_active: boolean,
      src_ref: ref(refTo('ipv4-addr', 'ipv6-addr', 'mac-addr', 'domain-name')),
      dst_ref: ref(refTo('ipv4-addr', 'ipv6-addr', 'mac-addr', 'domain-name')),
      src_port: integer(0, 65535),
      dst_port: integer(0, 65535),
      protocols: required(strings),
      src_byte_count: count,
      dst_byte_count: count,
      src_packets: count,
      dst_packets: count,
      ipfix: dictionary(stringOr(integer(), 'number')),
      src_payload_ref: ref(artifact),
      dst_payload_ref: ref(artifact),
      encapsulates_refs: refs(networkTraffic),
      encapsulated_by_ref: ref(networkTraffic),
    },
    constraints: [atLeastOneOf('src_ref', 'dst_ref'), timeOrder('end', 'start'), activeTraffic],
    extensions: NETWORK_TRAFFIC_EXTENSIONS,
  },
  {
    type: 'process',
    category: 'sco',
    section: '6.13',
    properties: {
      is_hidden: boolean,
      pid: integer(),
      created_time: timestamp,
      cwd: string,
      command_line: string,
      environment_variables: dictionary(string),
      opened_connection_refs: refs(networkTraffic),
      creator_user_ref: ref(userAccount),
      image_ref: ref(refTo('file')),
      parent_ref: ref(process),
      child_refs: refs(process),
    },
    constraints: [notEmptyBeyond('a process', SCO_COMMON)],
    extensions: PROCESS_EXTENSIONS,
  },
  {
    type: 'software',
    category: 'sco',
    section: '6.14',
    properties: {
      name: required(string),
      cpe: formatted(isCpe23, 'a CPE 2.3 formatted string (cpe:2.3:part:vendor:...)'),
      swid: string,
      languages: listOf(formatted(isLanguageTag, 'an RFC 5646 language tag')),
      vendor: string,
      version: string,
    },
  },
  {
    type: 'url',
    category: 'sco',
    section: '6.15',
    properties: { value: required(url) },
  },
  {
    type: 'user-account',
    category: 'sco',
    section: '6.16',
    properties: {
      user_id: string,
      credential: string,
      account_login: string,
      account_type: openVocab,
      display_name: string,
      is_service_account: boolean,
      is_privileged: boolean,
      can_escalate_privs: boolean,
      is_disabled: boolean,
      account_created: timestamp,
      account_expires: timestamp,
      credential_last_changed: timestamp,
      account_first_login: timestamp,
      account_last_login: timestamp,
    },
    constraints: [notEmptyBeyond('a user account', SCO_COMMON)],
    extensions: USER_ACCOUNT_EXTENSIONS,
  },
  {
    type: 'windows-registry-key',
    category: 'sco',
    section: '6.17',
    properties: {
      key: registryKey,
      values: listOf(registryValue),
      modified_time: timestamp,
      creator_user_ref: ref(userAccount),
      number_of_subkeys: integer(),
    },
    constraints: [notEmptyBeyond('a registry key', SCO_COMMON)],
  },
  {
    type: 'x509-certificate',
    category: 'sco',
    section: '6.18',
    properties: {
      is_self_signed: boolean,
      hashes: anyHashes,
      version: string,
      serial_number: string,
      signature_algorithm: string,
      issuer: string,
      validity_not_before: timestamp,
      validity_not_after: timestamp,
      subject: string,
      subject_public_key_algorithm: string,
      subject_public_key_modulus: string,
      subject_public_key_exponent: integer(),
      x509_v3_extensions: x509V3Extensions,
    },
    constraints: [notEmptyBeyond('an X.509 certificate', SCO_COMMON)],
  },
];

-- Schema of the Django test project (testdata/django) after `manage.py migrate` and
-- `manage.py shift_ids` on PostgreSQL 15 with Django 3.2.25: the tables, constraints and indexes
-- Django's migrations create, plus the rows migrate seeds (content types, permissions, the
-- migration history) under ids moved past 1000, as a re-initialised install holds them.
-- Made with pg_dump --schema-only --no-owner --no-privileges, then pg_dump --data-only --inserts
-- --no-owner, psql's \restrict lines removed; see testdata/README.md. Lets suites build a Django
-- target without Python. Never regenerated for existing samples.
--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: audit_auditentry; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit_auditentry (
    id bigint NOT NULL,
    object_id integer,
    action character varying(32) NOT NULL,
    "timestamp" timestamp with time zone NOT NULL,
    changes jsonb,
    remote_addr inet,
    actor_id integer,
    content_type_id integer,
    CONSTRAINT audit_auditentry_object_id_check CHECK ((object_id >= 0))
);


--
-- Name: audit_auditentry_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.audit_auditentry_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: audit_auditentry_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.audit_auditentry_id_seq OWNED BY public.audit_auditentry.id;


--
-- Name: auth_group; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auth_group (
    id integer NOT NULL,
    name character varying(150) NOT NULL
);


--
-- Name: auth_group_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.auth_group_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: auth_group_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.auth_group_id_seq OWNED BY public.auth_group.id;


--
-- Name: auth_group_permissions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auth_group_permissions (
    id integer NOT NULL,
    group_id integer NOT NULL,
    permission_id integer NOT NULL
);


--
-- Name: auth_group_permissions_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.auth_group_permissions_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: auth_group_permissions_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.auth_group_permissions_id_seq OWNED BY public.auth_group_permissions.id;


--
-- Name: auth_permission; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auth_permission (
    id integer NOT NULL,
    name character varying(255) NOT NULL,
    content_type_id integer NOT NULL,
    codename character varying(100) NOT NULL
);


--
-- Name: auth_permission_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.auth_permission_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: auth_permission_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.auth_permission_id_seq OWNED BY public.auth_permission.id;


--
-- Name: auth_user; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auth_user (
    id integer NOT NULL,
    password character varying(128) NOT NULL,
    last_login timestamp with time zone,
    is_superuser boolean NOT NULL,
    username character varying(150) NOT NULL,
    first_name character varying(150) NOT NULL,
    last_name character varying(150) NOT NULL,
    email character varying(254) NOT NULL,
    is_staff boolean NOT NULL,
    is_active boolean NOT NULL,
    date_joined timestamp with time zone NOT NULL
);


--
-- Name: auth_user_groups; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auth_user_groups (
    id integer NOT NULL,
    user_id integer NOT NULL,
    group_id integer NOT NULL
);


--
-- Name: auth_user_groups_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.auth_user_groups_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: auth_user_groups_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.auth_user_groups_id_seq OWNED BY public.auth_user_groups.id;


--
-- Name: auth_user_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.auth_user_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: auth_user_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.auth_user_id_seq OWNED BY public.auth_user.id;


--
-- Name: auth_user_user_permissions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auth_user_user_permissions (
    id integer NOT NULL,
    user_id integer NOT NULL,
    permission_id integer NOT NULL
);


--
-- Name: auth_user_user_permissions_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.auth_user_user_permissions_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: auth_user_user_permissions_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.auth_user_user_permissions_id_seq OWNED BY public.auth_user_user_permissions.id;


--
-- Name: django_content_type; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.django_content_type (
    id integer NOT NULL,
    app_label character varying(100) NOT NULL,
    model character varying(100) NOT NULL
);


--
-- Name: django_content_type_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.django_content_type_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: django_content_type_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.django_content_type_id_seq OWNED BY public.django_content_type.id;


--
-- Name: django_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.django_migrations (
    id integer NOT NULL,
    app character varying(255) NOT NULL,
    name character varying(255) NOT NULL,
    applied timestamp with time zone NOT NULL
);


--
-- Name: django_migrations_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.django_migrations_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: django_migrations_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.django_migrations_id_seq OWNED BY public.django_migrations.id;


--
-- Name: documents_document; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.documents_document (
    id integer NOT NULL,
    document_number character varying(64) NOT NULL,
    title text NOT NULL,
    description text,
    metadata jsonb NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    current_version_id integer,
    document_type_id integer NOT NULL,
    folder_id integer,
    owner_id integer NOT NULL
);


--
-- Name: documents_document_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.documents_document_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: documents_document_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.documents_document_id_seq OWNED BY public.documents_document.id;


--
-- Name: documents_document_tags; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.documents_document_tags (
    id integer NOT NULL,
    document_id integer NOT NULL,
    tag_id integer NOT NULL
);


--
-- Name: documents_document_tags_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.documents_document_tags_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: documents_document_tags_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.documents_document_tags_id_seq OWNED BY public.documents_document_tags.id;


--
-- Name: documents_documenttype; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.documents_documenttype (
    id integer NOT NULL,
    name character varying(100) NOT NULL,
    label character varying(200) NOT NULL,
    retention_days integer,
    is_default boolean NOT NULL
);


--
-- Name: documents_documenttype_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.documents_documenttype_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: documents_documenttype_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.documents_documenttype_id_seq OWNED BY public.documents_documenttype.id;


--
-- Name: documents_documentversion; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.documents_documentversion (
    id integer NOT NULL,
    version_number integer NOT NULL,
    content bytea NOT NULL,
    sha256 character varying(64) NOT NULL,
    mime_type character varying(100) NOT NULL,
    size bigint NOT NULL,
    comment text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    created_by_id integer,
    document_id integer NOT NULL,
    CONSTRAINT documents_documentversion_version_number_check CHECK ((version_number > 0))
);


--
-- Name: documents_documentversion_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.documents_documentversion_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: documents_documentversion_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.documents_documentversion_id_seq OWNED BY public.documents_documentversion.id;


--
-- Name: documents_folder; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.documents_folder (
    id integer NOT NULL,
    name character varying(255) NOT NULL,
    created_at timestamp with time zone NOT NULL,
    created_by_id integer,
    parent_id integer
);


--
-- Name: documents_folder_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.documents_folder_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: documents_folder_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.documents_folder_id_seq OWNED BY public.documents_folder.id;


--
-- Name: documents_tag; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.documents_tag (
    id integer NOT NULL,
    name character varying(100) NOT NULL,
    color character varying(7) NOT NULL
);


--
-- Name: documents_tag_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.documents_tag_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: documents_tag_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.documents_tag_id_seq OWNED BY public.documents_tag.id;


--
-- Name: signatures_signature; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.signatures_signature (
    id integer NOT NULL,
    meaning character varying(50) NOT NULL,
    signed_at timestamp with time zone NOT NULL,
    signature bytea NOT NULL,
    signer_id integer NOT NULL,
    version_id integer NOT NULL
);


--
-- Name: signatures_signature_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.signatures_signature_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: signatures_signature_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.signatures_signature_id_seq OWNED BY public.signatures_signature.id;


--
-- Name: workflows_transition; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.workflows_transition (
    id bigint NOT NULL,
    from_state character varying(50) NOT NULL,
    to_state character varying(50) NOT NULL,
    comment text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    actor_id integer,
    workflow_id integer NOT NULL
);


--
-- Name: workflows_transition_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.workflows_transition_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: workflows_transition_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.workflows_transition_id_seq OWNED BY public.workflows_transition.id;


--
-- Name: workflows_workflow; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.workflows_workflow (
    id integer NOT NULL,
    workflow_type character varying(50) NOT NULL,
    state character varying(50) NOT NULL,
    started_at timestamp with time zone NOT NULL,
    completed_at timestamp with time zone,
    document_id integer NOT NULL,
    started_by_id integer
);


--
-- Name: workflows_workflow_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.workflows_workflow_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: workflows_workflow_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.workflows_workflow_id_seq OWNED BY public.workflows_workflow.id;


--
-- Name: audit_auditentry id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_auditentry ALTER COLUMN id SET DEFAULT nextval('public.audit_auditentry_id_seq'::regclass);


--
-- Name: auth_group id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_group ALTER COLUMN id SET DEFAULT nextval('public.auth_group_id_seq'::regclass);


--
-- Name: auth_group_permissions id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_group_permissions ALTER COLUMN id SET DEFAULT nextval('public.auth_group_permissions_id_seq'::regclass);


--
-- Name: auth_permission id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_permission ALTER COLUMN id SET DEFAULT nextval('public.auth_permission_id_seq'::regclass);


--
-- Name: auth_user id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_user ALTER COLUMN id SET DEFAULT nextval('public.auth_user_id_seq'::regclass);


--
-- Name: auth_user_groups id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_user_groups ALTER COLUMN id SET DEFAULT nextval('public.auth_user_groups_id_seq'::regclass);


--
-- Name: auth_user_user_permissions id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_user_user_permissions ALTER COLUMN id SET DEFAULT nextval('public.auth_user_user_permissions_id_seq'::regclass);


--
-- Name: django_content_type id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.django_content_type ALTER COLUMN id SET DEFAULT nextval('public.django_content_type_id_seq'::regclass);


--
-- Name: django_migrations id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.django_migrations ALTER COLUMN id SET DEFAULT nextval('public.django_migrations_id_seq'::regclass);


--
-- Name: documents_document id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_document ALTER COLUMN id SET DEFAULT nextval('public.documents_document_id_seq'::regclass);


--
-- Name: documents_document_tags id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_document_tags ALTER COLUMN id SET DEFAULT nextval('public.documents_document_tags_id_seq'::regclass);


--
-- Name: documents_documenttype id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_documenttype ALTER COLUMN id SET DEFAULT nextval('public.documents_documenttype_id_seq'::regclass);


--
-- Name: documents_documentversion id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_documentversion ALTER COLUMN id SET DEFAULT nextval('public.documents_documentversion_id_seq'::regclass);


--
-- Name: documents_folder id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_folder ALTER COLUMN id SET DEFAULT nextval('public.documents_folder_id_seq'::regclass);


--
-- Name: documents_tag id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_tag ALTER COLUMN id SET DEFAULT nextval('public.documents_tag_id_seq'::regclass);


--
-- Name: signatures_signature id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.signatures_signature ALTER COLUMN id SET DEFAULT nextval('public.signatures_signature_id_seq'::regclass);


--
-- Name: workflows_transition id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.workflows_transition ALTER COLUMN id SET DEFAULT nextval('public.workflows_transition_id_seq'::regclass);


--
-- Name: workflows_workflow id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.workflows_workflow ALTER COLUMN id SET DEFAULT nextval('public.workflows_workflow_id_seq'::regclass);


--
-- Name: audit_auditentry audit_auditentry_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_auditentry
    ADD CONSTRAINT audit_auditentry_pkey PRIMARY KEY (id);


--
-- Name: auth_group auth_group_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_group
    ADD CONSTRAINT auth_group_name_key UNIQUE (name);


--
-- Name: auth_group_permissions auth_group_permissions_group_id_permission_id_0cd325b0_uniq; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_group_permissions
    ADD CONSTRAINT auth_group_permissions_group_id_permission_id_0cd325b0_uniq UNIQUE (group_id, permission_id);


--
-- Name: auth_group_permissions auth_group_permissions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_group_permissions
    ADD CONSTRAINT auth_group_permissions_pkey PRIMARY KEY (id);


--
-- Name: auth_group auth_group_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_group
    ADD CONSTRAINT auth_group_pkey PRIMARY KEY (id);


--
-- Name: auth_permission auth_permission_content_type_id_codename_01ab375a_uniq; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_permission
    ADD CONSTRAINT auth_permission_content_type_id_codename_01ab375a_uniq UNIQUE (content_type_id, codename);


--
-- Name: auth_permission auth_permission_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_permission
    ADD CONSTRAINT auth_permission_pkey PRIMARY KEY (id);


--
-- Name: auth_user_groups auth_user_groups_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_user_groups
    ADD CONSTRAINT auth_user_groups_pkey PRIMARY KEY (id);


--
-- Name: auth_user_groups auth_user_groups_user_id_group_id_94350c0c_uniq; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_user_groups
    ADD CONSTRAINT auth_user_groups_user_id_group_id_94350c0c_uniq UNIQUE (user_id, group_id);


--
-- Name: auth_user auth_user_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_user
    ADD CONSTRAINT auth_user_pkey PRIMARY KEY (id);


--
-- Name: auth_user_user_permissions auth_user_user_permissions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_user_user_permissions
    ADD CONSTRAINT auth_user_user_permissions_pkey PRIMARY KEY (id);


--
-- Name: auth_user_user_permissions auth_user_user_permissions_user_id_permission_id_14a6b632_uniq; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_user_user_permissions
    ADD CONSTRAINT auth_user_user_permissions_user_id_permission_id_14a6b632_uniq UNIQUE (user_id, permission_id);


--
-- Name: auth_user auth_user_username_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_user
    ADD CONSTRAINT auth_user_username_key UNIQUE (username);


--
-- Name: django_content_type django_content_type_app_label_model_76bd3d3b_uniq; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.django_content_type
    ADD CONSTRAINT django_content_type_app_label_model_76bd3d3b_uniq UNIQUE (app_label, model);


--
-- Name: django_content_type django_content_type_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.django_content_type
    ADD CONSTRAINT django_content_type_pkey PRIMARY KEY (id);


--
-- Name: django_migrations django_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.django_migrations
    ADD CONSTRAINT django_migrations_pkey PRIMARY KEY (id);


--
-- Name: documents_document documents_document_document_number_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_document
    ADD CONSTRAINT documents_document_document_number_key UNIQUE (document_number);


--
-- Name: documents_document documents_document_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_document
    ADD CONSTRAINT documents_document_pkey PRIMARY KEY (id);


--
-- Name: documents_document_tags documents_document_tags_document_id_tag_id_07e90502_uniq; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_document_tags
    ADD CONSTRAINT documents_document_tags_document_id_tag_id_07e90502_uniq UNIQUE (document_id, tag_id);


--
-- Name: documents_document_tags documents_document_tags_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_document_tags
    ADD CONSTRAINT documents_document_tags_pkey PRIMARY KEY (id);


--
-- Name: documents_documenttype documents_documenttype_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_documenttype
    ADD CONSTRAINT documents_documenttype_name_key UNIQUE (name);


--
-- Name: documents_documenttype documents_documenttype_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_documenttype
    ADD CONSTRAINT documents_documenttype_pkey PRIMARY KEY (id);


--
-- Name: documents_documentversion documents_documentversio_document_id_version_numb_e49058c6_uniq; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_documentversion
    ADD CONSTRAINT documents_documentversio_document_id_version_numb_e49058c6_uniq UNIQUE (document_id, version_number);


--
-- Name: documents_documentversion documents_documentversion_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_documentversion
    ADD CONSTRAINT documents_documentversion_pkey PRIMARY KEY (id);


--
-- Name: documents_folder documents_folder_parent_id_name_e3ebdbfd_uniq; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_folder
    ADD CONSTRAINT documents_folder_parent_id_name_e3ebdbfd_uniq UNIQUE (parent_id, name);


--
-- Name: documents_folder documents_folder_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_folder
    ADD CONSTRAINT documents_folder_pkey PRIMARY KEY (id);


--
-- Name: documents_tag documents_tag_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_tag
    ADD CONSTRAINT documents_tag_name_key UNIQUE (name);


--
-- Name: documents_tag documents_tag_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_tag
    ADD CONSTRAINT documents_tag_pkey PRIMARY KEY (id);


--
-- Name: signatures_signature signatures_signature_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.signatures_signature
    ADD CONSTRAINT signatures_signature_pkey PRIMARY KEY (id);


--
-- Name: signatures_signature signatures_signature_version_id_signer_id_meaning_263a543e_uniq; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.signatures_signature
    ADD CONSTRAINT signatures_signature_version_id_signer_id_meaning_263a543e_uniq UNIQUE (version_id, signer_id, meaning);


--
-- Name: workflows_transition workflows_transition_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.workflows_transition
    ADD CONSTRAINT workflows_transition_pkey PRIMARY KEY (id);


--
-- Name: workflows_workflow workflows_workflow_document_id_workflow_type_01263c03_uniq; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.workflows_workflow
    ADD CONSTRAINT workflows_workflow_document_id_workflow_type_01263c03_uniq UNIQUE (document_id, workflow_type);


--
-- Name: workflows_workflow workflows_workflow_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.workflows_workflow
    ADD CONSTRAINT workflows_workflow_pkey PRIMARY KEY (id);


--
-- Name: audit_auditentry_actor_id_8ab278be; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_auditentry_actor_id_8ab278be ON public.audit_auditentry USING btree (actor_id);


--
-- Name: audit_auditentry_content_type_id_3fc095fb; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_auditentry_content_type_id_3fc095fb ON public.audit_auditentry USING btree (content_type_id);


--
-- Name: audit_auditentry_object_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_auditentry_object_idx ON public.audit_auditentry USING btree (content_type_id, object_id);


--
-- Name: auth_group_name_a6ea08ec_like; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX auth_group_name_a6ea08ec_like ON public.auth_group USING btree (name varchar_pattern_ops);


--
-- Name: auth_group_permissions_group_id_b120cbf9; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX auth_group_permissions_group_id_b120cbf9 ON public.auth_group_permissions USING btree (group_id);


--
-- Name: auth_group_permissions_permission_id_84c5c92e; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX auth_group_permissions_permission_id_84c5c92e ON public.auth_group_permissions USING btree (permission_id);


--
-- Name: auth_permission_content_type_id_2f476e4b; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX auth_permission_content_type_id_2f476e4b ON public.auth_permission USING btree (content_type_id);


--
-- Name: auth_user_groups_group_id_97559544; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX auth_user_groups_group_id_97559544 ON public.auth_user_groups USING btree (group_id);


--
-- Name: auth_user_groups_user_id_6a12ed8b; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX auth_user_groups_user_id_6a12ed8b ON public.auth_user_groups USING btree (user_id);


--
-- Name: auth_user_user_permissions_permission_id_1fbb5f2c; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX auth_user_user_permissions_permission_id_1fbb5f2c ON public.auth_user_user_permissions USING btree (permission_id);


--
-- Name: auth_user_user_permissions_user_id_a95ead1b; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX auth_user_user_permissions_user_id_a95ead1b ON public.auth_user_user_permissions USING btree (user_id);


--
-- Name: auth_user_username_6821ab7c_like; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX auth_user_username_6821ab7c_like ON public.auth_user USING btree (username varchar_pattern_ops);


--
-- Name: documents_document_current_version_id_b4511bde; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX documents_document_current_version_id_b4511bde ON public.documents_document USING btree (current_version_id);


--
-- Name: documents_document_document_number_61f0d437_like; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX documents_document_document_number_61f0d437_like ON public.documents_document USING btree (document_number varchar_pattern_ops);


--
-- Name: documents_document_document_type_id_1f88b50c; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX documents_document_document_type_id_1f88b50c ON public.documents_document USING btree (document_type_id);


--
-- Name: documents_document_folder_id_f2e8c7fd; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX documents_document_folder_id_f2e8c7fd ON public.documents_document USING btree (folder_id);


--
-- Name: documents_document_owner_id_04d2b723; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX documents_document_owner_id_04d2b723 ON public.documents_document USING btree (owner_id);


--
-- Name: documents_document_tags_document_id_006f35a8; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX documents_document_tags_document_id_006f35a8 ON public.documents_document_tags USING btree (document_id);


--
-- Name: documents_document_tags_tag_id_4f4a71e9; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX documents_document_tags_tag_id_4f4a71e9 ON public.documents_document_tags USING btree (tag_id);


--
-- Name: documents_documenttype_name_c2bc4c08_like; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX documents_documenttype_name_c2bc4c08_like ON public.documents_documenttype USING btree (name varchar_pattern_ops);


--
-- Name: documents_documentversion_created_by_id_aaa305f1; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX documents_documentversion_created_by_id_aaa305f1 ON public.documents_documentversion USING btree (created_by_id);


--
-- Name: documents_documentversion_document_id_42757b7a; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX documents_documentversion_document_id_42757b7a ON public.documents_documentversion USING btree (document_id);


--
-- Name: documents_folder_created_by_id_94a783ec; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX documents_folder_created_by_id_94a783ec ON public.documents_folder USING btree (created_by_id);


--
-- Name: documents_folder_parent_id_55715a39; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX documents_folder_parent_id_55715a39 ON public.documents_folder USING btree (parent_id);


--
-- Name: documents_folder_root_name_uniq; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX documents_folder_root_name_uniq ON public.documents_folder USING btree (name) WHERE (parent_id IS NULL);


--
-- Name: documents_tag_name_b751fdae_like; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX documents_tag_name_b751fdae_like ON public.documents_tag USING btree (name varchar_pattern_ops);


--
-- Name: signatures_signature_signer_id_29003258; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX signatures_signature_signer_id_29003258 ON public.signatures_signature USING btree (signer_id);


--
-- Name: signatures_signature_version_id_c2b27d7c; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX signatures_signature_version_id_c2b27d7c ON public.signatures_signature USING btree (version_id);


--
-- Name: workflows_transition_actor_id_0758c716; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX workflows_transition_actor_id_0758c716 ON public.workflows_transition USING btree (actor_id);


--
-- Name: workflows_transition_workflow_id_f7caa032; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX workflows_transition_workflow_id_f7caa032 ON public.workflows_transition USING btree (workflow_id);


--
-- Name: workflows_workflow_document_id_71cec7ce; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX workflows_workflow_document_id_71cec7ce ON public.workflows_workflow USING btree (document_id);


--
-- Name: workflows_workflow_started_by_id_e62d8bab; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX workflows_workflow_started_by_id_e62d8bab ON public.workflows_workflow USING btree (started_by_id);


--
-- Name: audit_auditentry audit_auditentry_actor_id_8ab278be_fk_auth_user_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_auditentry
    ADD CONSTRAINT audit_auditentry_actor_id_8ab278be_fk_auth_user_id FOREIGN KEY (actor_id) REFERENCES public.auth_user(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: audit_auditentry audit_auditentry_content_type_id_3fc095fb_fk_django_co; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_auditentry
    ADD CONSTRAINT audit_auditentry_content_type_id_3fc095fb_fk_django_co FOREIGN KEY (content_type_id) REFERENCES public.django_content_type(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: auth_group_permissions auth_group_permissio_permission_id_84c5c92e_fk_auth_perm; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_group_permissions
    ADD CONSTRAINT auth_group_permissio_permission_id_84c5c92e_fk_auth_perm FOREIGN KEY (permission_id) REFERENCES public.auth_permission(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: auth_group_permissions auth_group_permissions_group_id_b120cbf9_fk_auth_group_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_group_permissions
    ADD CONSTRAINT auth_group_permissions_group_id_b120cbf9_fk_auth_group_id FOREIGN KEY (group_id) REFERENCES public.auth_group(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: auth_permission auth_permission_content_type_id_2f476e4b_fk_django_co; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_permission
    ADD CONSTRAINT auth_permission_content_type_id_2f476e4b_fk_django_co FOREIGN KEY (content_type_id) REFERENCES public.django_content_type(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: auth_user_groups auth_user_groups_group_id_97559544_fk_auth_group_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_user_groups
    ADD CONSTRAINT auth_user_groups_group_id_97559544_fk_auth_group_id FOREIGN KEY (group_id) REFERENCES public.auth_group(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: auth_user_groups auth_user_groups_user_id_6a12ed8b_fk_auth_user_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_user_groups
    ADD CONSTRAINT auth_user_groups_user_id_6a12ed8b_fk_auth_user_id FOREIGN KEY (user_id) REFERENCES public.auth_user(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: auth_user_user_permissions auth_user_user_permi_permission_id_1fbb5f2c_fk_auth_perm; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_user_user_permissions
    ADD CONSTRAINT auth_user_user_permi_permission_id_1fbb5f2c_fk_auth_perm FOREIGN KEY (permission_id) REFERENCES public.auth_permission(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: auth_user_user_permissions auth_user_user_permissions_user_id_a95ead1b_fk_auth_user_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auth_user_user_permissions
    ADD CONSTRAINT auth_user_user_permissions_user_id_a95ead1b_fk_auth_user_id FOREIGN KEY (user_id) REFERENCES public.auth_user(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: documents_document documents_document_current_version_id_b4511bde_fk_documents; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_document
    ADD CONSTRAINT documents_document_current_version_id_b4511bde_fk_documents FOREIGN KEY (current_version_id) REFERENCES public.documents_documentversion(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: documents_document documents_document_document_type_id_1f88b50c_fk_documents; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_document
    ADD CONSTRAINT documents_document_document_type_id_1f88b50c_fk_documents FOREIGN KEY (document_type_id) REFERENCES public.documents_documenttype(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: documents_document documents_document_folder_id_f2e8c7fd_fk_documents_folder_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_document
    ADD CONSTRAINT documents_document_folder_id_f2e8c7fd_fk_documents_folder_id FOREIGN KEY (folder_id) REFERENCES public.documents_folder(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: documents_document documents_document_owner_id_04d2b723_fk_auth_user_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_document
    ADD CONSTRAINT documents_document_owner_id_04d2b723_fk_auth_user_id FOREIGN KEY (owner_id) REFERENCES public.auth_user(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: documents_document_tags documents_document_t_document_id_006f35a8_fk_documents; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_document_tags
    ADD CONSTRAINT documents_document_t_document_id_006f35a8_fk_documents FOREIGN KEY (document_id) REFERENCES public.documents_document(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: documents_document_tags documents_document_tags_tag_id_4f4a71e9_fk_documents_tag_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_document_tags
    ADD CONSTRAINT documents_document_tags_tag_id_4f4a71e9_fk_documents_tag_id FOREIGN KEY (tag_id) REFERENCES public.documents_tag(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: documents_documentversion documents_documentve_created_by_id_aaa305f1_fk_auth_user; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_documentversion
    ADD CONSTRAINT documents_documentve_created_by_id_aaa305f1_fk_auth_user FOREIGN KEY (created_by_id) REFERENCES public.auth_user(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: documents_documentversion documents_documentve_document_id_42757b7a_fk_documents; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_documentversion
    ADD CONSTRAINT documents_documentve_document_id_42757b7a_fk_documents FOREIGN KEY (document_id) REFERENCES public.documents_document(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: documents_folder documents_folder_created_by_id_94a783ec_fk_auth_user_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_folder
    ADD CONSTRAINT documents_folder_created_by_id_94a783ec_fk_auth_user_id FOREIGN KEY (created_by_id) REFERENCES public.auth_user(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: documents_folder documents_folder_parent_id_55715a39_fk_documents_folder_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents_folder
    ADD CONSTRAINT documents_folder_parent_id_55715a39_fk_documents_folder_id FOREIGN KEY (parent_id) REFERENCES public.documents_folder(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: signatures_signature signatures_signature_signer_id_29003258_fk_auth_user_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.signatures_signature
    ADD CONSTRAINT signatures_signature_signer_id_29003258_fk_auth_user_id FOREIGN KEY (signer_id) REFERENCES public.auth_user(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: signatures_signature signatures_signature_version_id_c2b27d7c_fk_documents; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.signatures_signature
    ADD CONSTRAINT signatures_signature_version_id_c2b27d7c_fk_documents FOREIGN KEY (version_id) REFERENCES public.documents_documentversion(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: workflows_transition workflows_transition_actor_id_0758c716_fk_auth_user_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.workflows_transition
    ADD CONSTRAINT workflows_transition_actor_id_0758c716_fk_auth_user_id FOREIGN KEY (actor_id) REFERENCES public.auth_user(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: workflows_transition workflows_transition_workflow_id_f7caa032_fk_workflows; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.workflows_transition
    ADD CONSTRAINT workflows_transition_workflow_id_f7caa032_fk_workflows FOREIGN KEY (workflow_id) REFERENCES public.workflows_workflow(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: workflows_workflow workflows_workflow_document_id_71cec7ce_fk_documents; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.workflows_workflow
    ADD CONSTRAINT workflows_workflow_document_id_71cec7ce_fk_documents FOREIGN KEY (document_id) REFERENCES public.documents_document(id) DEFERRABLE INITIALLY DEFERRED;


--
-- Name: workflows_workflow workflows_workflow_started_by_id_e62d8bab_fk_auth_user_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.workflows_workflow
    ADD CONSTRAINT workflows_workflow_started_by_id_e62d8bab_fk_auth_user_id FOREIGN KEY (started_by_id) REFERENCES public.auth_user(id) DEFERRABLE INITIALLY DEFERRED;


--
-- PostgreSQL database dump complete
--


--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Data for Name: auth_user; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: django_content_type; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.django_content_type VALUES (1014, 'contenttypes', 'contenttype');
INSERT INTO public.django_content_type VALUES (1015, 'auth', 'permission');
INSERT INTO public.django_content_type VALUES (1016, 'auth', 'group');
INSERT INTO public.django_content_type VALUES (1017, 'auth', 'user');
INSERT INTO public.django_content_type VALUES (1018, 'documents', 'document');
INSERT INTO public.django_content_type VALUES (1019, 'documents', 'documenttype');
INSERT INTO public.django_content_type VALUES (1020, 'documents', 'tag');
INSERT INTO public.django_content_type VALUES (1021, 'documents', 'folder');
INSERT INTO public.django_content_type VALUES (1022, 'documents', 'documentversion');
INSERT INTO public.django_content_type VALUES (1023, 'workflows', 'workflow');
INSERT INTO public.django_content_type VALUES (1024, 'workflows', 'transition');
INSERT INTO public.django_content_type VALUES (1025, 'signatures', 'signature');
INSERT INTO public.django_content_type VALUES (1026, 'audit', 'auditentry');


--
-- Data for Name: audit_auditentry; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: auth_group; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: auth_permission; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.auth_permission VALUES (1053, 'Can add content type', 1014, 'add_contenttype');
INSERT INTO public.auth_permission VALUES (1054, 'Can change content type', 1014, 'change_contenttype');
INSERT INTO public.auth_permission VALUES (1055, 'Can delete content type', 1014, 'delete_contenttype');
INSERT INTO public.auth_permission VALUES (1056, 'Can view content type', 1014, 'view_contenttype');
INSERT INTO public.auth_permission VALUES (1057, 'Can add permission', 1015, 'add_permission');
INSERT INTO public.auth_permission VALUES (1058, 'Can change permission', 1015, 'change_permission');
INSERT INTO public.auth_permission VALUES (1059, 'Can delete permission', 1015, 'delete_permission');
INSERT INTO public.auth_permission VALUES (1060, 'Can view permission', 1015, 'view_permission');
INSERT INTO public.auth_permission VALUES (1061, 'Can add group', 1016, 'add_group');
INSERT INTO public.auth_permission VALUES (1062, 'Can change group', 1016, 'change_group');
INSERT INTO public.auth_permission VALUES (1063, 'Can delete group', 1016, 'delete_group');
INSERT INTO public.auth_permission VALUES (1064, 'Can view group', 1016, 'view_group');
INSERT INTO public.auth_permission VALUES (1065, 'Can add user', 1017, 'add_user');
INSERT INTO public.auth_permission VALUES (1066, 'Can change user', 1017, 'change_user');
INSERT INTO public.auth_permission VALUES (1067, 'Can delete user', 1017, 'delete_user');
INSERT INTO public.auth_permission VALUES (1068, 'Can view user', 1017, 'view_user');
INSERT INTO public.auth_permission VALUES (1069, 'Can add document', 1018, 'add_document');
INSERT INTO public.auth_permission VALUES (1070, 'Can change document', 1018, 'change_document');
INSERT INTO public.auth_permission VALUES (1071, 'Can delete document', 1018, 'delete_document');
INSERT INTO public.auth_permission VALUES (1072, 'Can view document', 1018, 'view_document');
INSERT INTO public.auth_permission VALUES (1073, 'Can add document type', 1019, 'add_documenttype');
INSERT INTO public.auth_permission VALUES (1074, 'Can change document type', 1019, 'change_documenttype');
INSERT INTO public.auth_permission VALUES (1075, 'Can delete document type', 1019, 'delete_documenttype');
INSERT INTO public.auth_permission VALUES (1076, 'Can view document type', 1019, 'view_documenttype');
INSERT INTO public.auth_permission VALUES (1077, 'Can add tag', 1020, 'add_tag');
INSERT INTO public.auth_permission VALUES (1078, 'Can change tag', 1020, 'change_tag');
INSERT INTO public.auth_permission VALUES (1079, 'Can delete tag', 1020, 'delete_tag');
INSERT INTO public.auth_permission VALUES (1080, 'Can view tag', 1020, 'view_tag');
INSERT INTO public.auth_permission VALUES (1081, 'Can add folder', 1021, 'add_folder');
INSERT INTO public.auth_permission VALUES (1082, 'Can change folder', 1021, 'change_folder');
INSERT INTO public.auth_permission VALUES (1083, 'Can delete folder', 1021, 'delete_folder');
INSERT INTO public.auth_permission VALUES (1084, 'Can view folder', 1021, 'view_folder');
INSERT INTO public.auth_permission VALUES (1085, 'Can add document version', 1022, 'add_documentversion');
INSERT INTO public.auth_permission VALUES (1086, 'Can change document version', 1022, 'change_documentversion');
INSERT INTO public.auth_permission VALUES (1087, 'Can delete document version', 1022, 'delete_documentversion');
INSERT INTO public.auth_permission VALUES (1088, 'Can view document version', 1022, 'view_documentversion');
INSERT INTO public.auth_permission VALUES (1089, 'Can add workflow', 1023, 'add_workflow');
INSERT INTO public.auth_permission VALUES (1090, 'Can change workflow', 1023, 'change_workflow');
INSERT INTO public.auth_permission VALUES (1091, 'Can delete workflow', 1023, 'delete_workflow');
INSERT INTO public.auth_permission VALUES (1092, 'Can view workflow', 1023, 'view_workflow');
INSERT INTO public.auth_permission VALUES (1093, 'Can add transition', 1024, 'add_transition');
INSERT INTO public.auth_permission VALUES (1094, 'Can change transition', 1024, 'change_transition');
INSERT INTO public.auth_permission VALUES (1095, 'Can delete transition', 1024, 'delete_transition');
INSERT INTO public.auth_permission VALUES (1096, 'Can view transition', 1024, 'view_transition');
INSERT INTO public.auth_permission VALUES (1097, 'Can add signature', 1025, 'add_signature');
INSERT INTO public.auth_permission VALUES (1098, 'Can change signature', 1025, 'change_signature');
INSERT INTO public.auth_permission VALUES (1099, 'Can delete signature', 1025, 'delete_signature');
INSERT INTO public.auth_permission VALUES (1100, 'Can view signature', 1025, 'view_signature');
INSERT INTO public.auth_permission VALUES (1101, 'Can add audit entry', 1026, 'add_auditentry');
INSERT INTO public.auth_permission VALUES (1102, 'Can change audit entry', 1026, 'change_auditentry');
INSERT INTO public.auth_permission VALUES (1103, 'Can delete audit entry', 1026, 'delete_auditentry');
INSERT INTO public.auth_permission VALUES (1104, 'Can view audit entry', 1026, 'view_auditentry');


--
-- Data for Name: auth_group_permissions; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: auth_user_groups; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: auth_user_user_permissions; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: django_migrations; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.django_migrations VALUES (1, 'contenttypes', '0001_initial', '2026-11-25 23:31:08.9285+00');
INSERT INTO public.django_migrations VALUES (2, 'contenttypes', '0002_remove_content_type_name', '2026-11-25 23:31:08.945849+00');
INSERT INTO public.django_migrations VALUES (3, 'auth', '0001_initial', '2026-11-25 23:31:09.014931+00');
INSERT INTO public.django_migrations VALUES (4, 'audit', '0001_initial', '2026-11-25 23:31:09.031715+00');
INSERT INTO public.django_migrations VALUES (5, 'auth', '0002_alter_permission_name_max_length', '2026-11-25 23:31:09.040174+00');
INSERT INTO public.django_migrations VALUES (6, 'auth', '0003_alter_user_email_max_length', '2026-11-25 23:31:09.104868+00');
INSERT INTO public.django_migrations VALUES (7, 'auth', '0004_alter_user_username_opts', '2026-11-25 23:31:09.111409+00');
INSERT INTO public.django_migrations VALUES (8, 'auth', '0005_alter_user_last_login_null', '2026-11-25 23:31:09.117356+00');
INSERT INTO public.django_migrations VALUES (9, 'auth', '0006_require_contenttypes_0002', '2026-11-25 23:31:09.120506+00');
INSERT INTO public.django_migrations VALUES (10, 'auth', '0007_alter_validators_add_error_messages', '2026-11-25 23:31:09.131853+00');
INSERT INTO public.django_migrations VALUES (11, 'auth', '0008_alter_user_username_max_length', '2026-11-25 23:31:09.14194+00');
INSERT INTO public.django_migrations VALUES (12, 'auth', '0009_alter_user_last_name_max_length', '2026-11-25 23:31:09.164727+00');
INSERT INTO public.django_migrations VALUES (13, 'auth', '0010_alter_group_name_max_length', '2026-11-25 23:31:09.17697+00');
INSERT INTO public.django_migrations VALUES (14, 'auth', '0011_update_proxy_permissions', '2026-11-25 23:31:09.186575+00');
INSERT INTO public.django_migrations VALUES (15, 'auth', '0012_alter_user_first_name_max_length', '2026-11-25 23:31:09.1946+00');
INSERT INTO public.django_migrations VALUES (16, 'documents', '0001_initial', '2026-11-25 23:31:09.383754+00');
INSERT INTO public.django_migrations VALUES (17, 'signatures', '0001_initial', '2026-11-25 23:31:09.42752+00');
INSERT INTO public.django_migrations VALUES (18, 'workflows', '0001_initial', '2026-11-25 23:31:09.485773+00');


--
-- Data for Name: documents_documenttype; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: documents_folder; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: documents_document; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: documents_tag; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: documents_document_tags; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: documents_documentversion; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: signatures_signature; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: workflows_workflow; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: workflows_transition; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Name: audit_auditentry_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.audit_auditentry_id_seq', 1000, true);


--
-- Name: auth_group_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.auth_group_id_seq', 1000, true);


--
-- Name: auth_group_permissions_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.auth_group_permissions_id_seq', 1000, true);


--
-- Name: auth_permission_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.auth_permission_id_seq', 1104, true);


--
-- Name: auth_user_groups_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.auth_user_groups_id_seq', 1000, true);


--
-- Name: auth_user_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.auth_user_id_seq', 1000, true);


--
-- Name: auth_user_user_permissions_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.auth_user_user_permissions_id_seq', 1000, true);


--
-- Name: django_content_type_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.django_content_type_id_seq', 1026, true);


--
-- Name: django_migrations_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.django_migrations_id_seq', 1018, true);


--
-- Name: documents_document_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.documents_document_id_seq', 1000, true);


--
-- Name: documents_document_tags_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.documents_document_tags_id_seq', 1000, true);


--
-- Name: documents_documenttype_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.documents_documenttype_id_seq', 1000, true);


--
-- Name: documents_documentversion_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.documents_documentversion_id_seq', 1000, true);


--
-- Name: documents_folder_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.documents_folder_id_seq', 1000, true);


--
-- Name: documents_tag_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.documents_tag_id_seq', 1000, true);


--
-- Name: signatures_signature_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.signatures_signature_id_seq', 1000, true);


--
-- Name: workflows_transition_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.workflows_transition_id_seq', 1000, true);


--
-- Name: workflows_workflow_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.workflows_workflow_id_seq', 1000, true);


--
-- PostgreSQL database dump complete
--



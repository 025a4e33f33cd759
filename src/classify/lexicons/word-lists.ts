/**
 * Hand-curated word lists. Names, places and common English words come from packages
 * (see lexicons/index.ts); these are the small domain lists no package ships in a
 * usable form. Lower case; multi-word entries are phrases.
 */

const words = (s: string): string[] => s.trim().split(/\s*\n\s*|\s*;\s*/).filter((w) => w !== '');

export const TITLES = new Set(words('mr;mrs;ms;miss;mx;dr;prof;sir;dame;lord;lady;rev;fr;hon;herr;frau;mme;mlle;sr;sra;srta;dott'));

/** Words before a lone capitalised token that make it a name. */
export const PERSON_CONTEXT = new Set(words(`name;named;names;called;call;dear;hi;hello;hey;thanks;thank;regards;sincerely;signed;cc;
patient;customer;client;employee;applicant;candidate;tenant;member;user;contact;manager;colleague;husband;wife;son;daughter;
mother;father;brother;sister;friend;mr;mrs;ms;dr;by;from;with;ask;tell;met;meet;email;emailed;spoke;assigned;owner;author;
surname;firstname;lastname;forename;nachname;vorname;nom;prénom;nombre;apellido;he;she;his;her;
ping;remind;invite;forward;congratulate;thank;welcome;cheers;best;per;via;and;let`));

/** Capitalised tokens that are never given names in prose, beyond the Dale-Chall list. */
export const EXTRA_COMMON = new Set(words(`guy;art;pat;sue;bob;gene;ray;dean;rich;sky;ivy;jack;jay;mark;bill;will;may;june;april;august;
hope;faith;grace;joy;chase;hunter;page;rose;lily;daisy;violet;amber;ruby;pearl;crystal;summer;autumn;dawn;eve;sunny;
angel;star;king;prince;duke;earl;baron;major;general;judge;marshal;sterling;sterlings;
spring;react;angular;vue;node;docker;python;java;ruby;rust;go;swift;kotlin;scala;perl;lambda;kafka;redis;spark;hadoop;
jenkins;ansible;terraform;helm;grafana;kibana;elastic;mongo;postgres;oracle;azure;aws;gcp;linux;windows;ubuntu;debian;
apache;nginx;jest;mocha;express;flask;django;rails;laravel;symfony;pandas;numpy;torch;keras;jupyter;git;github;gitlab;
jira;slack;zoom;teams;excel;word;outlook;chrome;firefox;safari;edge;android;ios;mac;iphone;ipad;
please;thanks;hello;hi;dear;best;regards;kind;note;todo;fixme;error;warning;info;debug;true;false;null;none;
monday;tuesday;wednesday;thursday;friday;saturday;sunday;january;february;march;september;october;november;december;
us;usa;uk;eu;un;ceo;cto;cfo;api;sdk;cli;url;http;https;json;yaml;xml;csv;pdf;sql;html;css;
the;this;that;these;those;there;then;than;what;when;where;which;who;whom;whose;why;how;also;however;therefore`));

/**
 * Product, model and tool names that are also entries of the real-names dictionary
 * (@cspell/dict-people-names lists "Claude", "Haskell", "Deno", "Kong"). In prompts to an
 * AI gateway they are products far more often than people, so they count as everyday
 * words. Given names that are also products but common as names (Ada, Maya, Hugo) stay out.
 */
export const PRODUCT_NAMES = new Set(words(`claude;gemini;llama;mistral;copilot;cursor;bard;alexa;siri;bixby;dall;haskell;dart;deno;vite;babel;
looker;packer;flink;presto;arango;jaeger;caddy;kong;wix;cypress;chai;kali;hubble;spitzer;honda`));

export const ORG_SUFFIXES = new Set(words(`inc;inc.;corp;corp.;corporation;co;co.;company;llc;l.l.c.;ltd;ltd.;limited;plc;gmbh;ag;sa;s.a.;srl;
spa;bv;nv;ab;oy;as;kg;llp;lp;pty;group;holdings;partners;bank;university;universität;université;universidad;college;
institute;hospital;clinic;foundation;association;agency;ministry;department;council;school;academy;laboratories;labs;
technologies;systems;solutions;consulting;capital;ventures;insurance;pharmaceuticals;pharma;airlines;motors;
trust;society;federation;union;committee;commission;authority;office;bureau;services;industries;enterprises;
empire;kingdom;republic;dynasty;church;cathedral;museum;airport;station;hotel;castle;palace;tower;bridge;river;lake;
mountain;island;bay;park;valley;street;road;avenue;square;hall;centre;center;house;court;war;revolution;era;elementary`));

export const KNOWN_ORGS = new Set(words(`google;alphabet;microsoft;amazon;apple;meta;facebook;openai;anthropic;ibm;intel;nvidia;amd;oracle;sap;
salesforce;siemens;bosch;deloitte;accenture;mckinsey;pwc;kpmg;ernst & young;goldman sachs;jpmorgan;morgan stanley;
barclays;hsbc;ubs;deutsche bank;bnp paribas;santander;citibank;wells fargo;bank of america;visa;mastercard;paypal;
stripe;netflix;spotify;uber;airbnb;tesla;toyota;volkswagen;bmw;mercedes-benz;nestlé;nestle;unilever;pfizer;moderna;
novartis;roche;bayer;astrazeneca;johnson & johnson;merck;walmart;nhs;who;unicef;nato;fbi;cia;nasa;irs;hmrc;
european commission;world bank;red cross;mayo clinic;kaiser permanente`));

/** Nationalities, ethnic groups, religions and political affiliations (Presidio's NRP). */
export const NRP_TERMS = new Set(words(`american;british;english;scottish;welsh;irish;french;german;italian;spanish;portuguese;dutch;belgian;swiss;
austrian;swedish;norwegian;danish;finnish;polish;czech;slovak;hungarian;romanian;bulgarian;greek;turkish;russian;
ukrainian;belarusian;serbian;croatian;bosnian;albanian;lithuanian;latvian;estonian;chinese;japanese;korean;vietnamese;
thai;filipino;indonesian;malaysian;singaporean;indian;pakistani;bangladeshi;sri lankan;nepali;afghan;iranian;iraqi;
syrian;lebanese;jordanian;israeli;palestinian;saudi;emirati;egyptian;moroccan;algerian;tunisian;libyan;nigerian;
ghanaian;kenyan;ethiopian;somali;sudanese;south african;zimbabwean;congolese;mexican;canadian;brazilian;argentinian;
argentine;chilean;colombian;peruvian;venezuelan;cuban;haitian;jamaican;puerto rican;australian;new zealander;
hispanic;latino;latina;latinx;african american;black;white;asian;caucasian;arab;kurdish;roma;romani;indigenous;
aboriginal;native american;jewish;jew;muslim;moslem;islamic;christian;catholic;protestant;evangelical;orthodox;
lutheran;baptist;methodist;anglican;mormon;hindu;buddhist;sikh;jain;atheist;agnostic;jehovah's witness;shia;sunni;
democrat;democratic party;republican;gop;conservative;tory;labour party;liberal democrat;socialist;communist;
libertarian;green party;afd;cdu;spd;nationalist;marxist;anarchist`));

/** Words in NRP_TERMS that are also colours, languages or ordinary words: need person context. */
export const NRP_AMBIGUOUS = new Set(words(`english;french;german;italian;spanish;portuguese;dutch;chinese;japanese;korean;russian;greek;turkish;
black;white;asian;orthodox;conservative;liberal;republican;democratic;green party;indian;american;british;swiss;
danish;polish;thai;arab;christian;democrat;socialist`));

/** Context that makes an NRP/special-category term about a person. */
export const ABOUT_PERSON = new Set(words(`he;she;they;him;her;his;hers;their;i;i'm;im;am;me;my;patient;employee;client;customer;applicant;
candidate;tenant;member;identifies;religion;religious;ethnicity;ethnic;nationality;citizen;citizenship;descent;origin;
faith;practicing;practising;devout;supporter;voted;votes;believer;converted;heritage;background;race;racial;orientation;
is;was;being;married;partner;wife;husband;son;daughter;mother;father`));

/** GDPR Art. 9 categories beyond NRP: sexual orientation, union membership, genetic and biometric data. */
export const SPECIAL_TERMS = new Set(words(`gay;lesbian;bisexual;homosexual;heterosexual;transgender;trans woman;trans man;queer;lgbt;lgbtq;
lgbtq+;non-binary;nonbinary;sexual orientation;gender identity;trade union;union member;union membership;unionized;
unionised;shop steward;genetic test;genetic testing;dna test;genome;genotype;brca1;brca2;biometric;fingerprint;
fingerprints;face scan;facial recognition;retina scan;iris scan;voiceprint;political views;political opinion;
religious beliefs;sex life;hiv positive`));

/** Diagnoses, drugs and procedures. Entries in HEALTH_AMBIGUOUS need health context. */
export const HEALTH_TERMS = new Set(words(`pancreatic cancer;breast cancer;lung cancer;prostate cancer;colon cancer;colorectal cancer;
skin cancer;ovarian cancer;cervical cancer;brain tumor;brain tumour;diabetes;type 1 diabetes;type 2 diabetes;prediabetes;hypertension;hypotension;cancer;carcinoma;tumor;tumour;
leukemia;leukaemia;lymphoma;melanoma;sarcoma;metastasis;metastatic;chemotherapy;radiotherapy;radiation therapy;
immunotherapy;hiv;aids;hepatitis;hepatitis b;hepatitis c;tuberculosis;pneumonia;covid-19;covid;sars-cov-2;influenza;
sepsis;asthma;copd;emphysema;bronchitis;cystic fibrosis;epilepsy;seizure;seizures;migraine;dementia;alzheimer's;
alzheimers;parkinson's;parkinsons;multiple sclerosis;als;huntington's;stroke;myocardial infarction;heart attack;
heart failure;arrhythmia;atrial fibrillation;angina;coronary artery disease;cardiomyopathy;depression;major depressive disorder;
anxiety disorder;panic disorder;bipolar disorder;bipolar;schizophrenia;psychosis;ptsd;ocd;adhd;autism;autism spectrum disorder;
anorexia;bulimia;eating disorder;substance use disorder;alcoholism;addiction;opioid use disorder;suicidal;self-harm;
arthritis;rheumatoid arthritis;osteoarthritis;osteoporosis;lupus;psoriasis;eczema;crohn's disease;crohn's;ulcerative colitis;
celiac disease;irritable bowel syndrome;ibs;gerd;cirrhosis;fatty liver;kidney disease;chronic kidney disease;renal failure;
kidney failure;dialysis;hypothyroidism;hyperthyroidism;obesity;anemia;anaemia;sickle cell;hemophilia;thalassemia;
chlamydia;gonorrhea;syphilis;herpes;hpv;std;sti;pregnant;pregnancy;miscarriage;abortion;infertility;ivf;endometriosis;
pcos;menopause;erectile dysfunction;glaucoma;cataract;macular degeneration;tinnitus;concussion;fracture;
insulin;metformin;ozempic;semaglutide;wegovy;mounjaro;tirzepatide;lisinopril;amlodipine;losartan;atorvastatin;simvastatin;
rosuvastatin;warfarin;apixaban;eliquis;xarelto;clopidogrel;aspirin;ibuprofen;acetaminophen;paracetamol;naproxen;
oxycodone;hydrocodone;morphine;fentanyl;tramadol;codeine;methadone;buprenorphine;suboxone;naloxone;narcan;
sertraline;zoloft;fluoxetine;prozac;escitalopram;lexapro;citalopram;paroxetine;venlafaxine;duloxetine;bupropion;
wellbutrin;trazodone;mirtazapine;lithium;lamotrigine;valproate;quetiapine;seroquel;olanzapine;risperidone;aripiprazole;
abilify;clozapine;haloperidol;alprazolam;xanax;lorazepam;ativan;diazepam;valium;clonazepam;klonopin;zolpidem;ambien;
adderall;ritalin;methylphenidate;vyvanse;gabapentin;pregabalin;levothyroxine;synthroid;prednisone;methotrexate;
humira;adalimumab;keytruda;tamoxifen;herceptin;truvada;prep;antiretroviral;omeprazole;pantoprazole;albuterol;
insulin glargine;epipen;antidepressant;antidepressants;antipsychotic;antipsychotics;opioid;opioids;benzodiazepine;
mastectomy;lumpectomy;hysterectomy;vasectomy;colonoscopy;endoscopy;biopsy;appendectomy;cholecystectomy;
bypass surgery;angioplasty;stent;pacemaker;transplant;organ transplant;kidney transplant;amputation;
knee replacement;hip replacement;knee surgery;hip surgery;back surgery;spinal surgery;heart surgery;kidney stones;kidney stone;migraines;c-section;caesarean;cesarean;mri;ct scan;pet scan;mammogram;electroconvulsive therapy;
ect;physiotherapy;rehab;rehabilitation;psychotherapy;therapy session;diagnosis;diagnosed;prognosis;prescription;
prescribed;blood test;hba1c;cholesterol;blood pressure;viral load;cd4;biopsy results;oncology;oncologist;psychiatrist;
psychiatric;cardiologist;neurologist;inpatient;outpatient;icu;er visit;hospitalized;hospitalised;admitted`));

export const HEALTH_AMBIGUOUS = new Set(words(`stroke;depression;cancer;als;ibs;std;sti;ect;prep;rehab;stent;lithium;aspirin;
covid;fracture;seizure;addiction;anxiety disorder;bipolar;mri;admitted;diagnosis;prescription;blood pressure;cholesterol;icu;
pregnant;pregnancy;therapy session;hpv;ocd;pacemaker;transplant;influenza;concussion;migraine`));

/** Words that make an ambiguous health term medical. */
export const HEALTH_CONTEXT = new Set(words(`diagnosed;diagnosis;patient;patients;prescribed;prescription;mg;dose;dosage;treatment;treated;
symptoms;symptom;suffering;suffers;doctor;dr;physician;nurse;hospital;clinic;medical;medication;medications;medicine;
therapy;condition;chronic;acute;history;icd;icd-10;admitted;discharged;surgery;test;results;positive;negative;
taking;takes;mrn;ward;gp;specialist;referral;health;his;her;he;she;died;death;illness;ill;sick;disease;terminal;stage`));

export const BIRTH_CONTEXT = new Set(words(`born;birth;birthday;dob;d.o.b;birthdate;date of birth;geboren;geburtsdatum;né;née;naissance;
nacimiento;nascita;bday`));

/** Major world cities and regions that faker's city lists (mostly US) leave out. */
export const WORLD_PLACES = words(`Monte Carlo;London;Paris;Berlin;Madrid;Rome;Milan;Munich;Hamburg;Frankfurt;Vienna;Zurich;Geneva;Amsterdam;Rotterdam;
Brussels;Antwerp;Lisbon;Porto;Barcelona;Valencia;Seville;Dublin;Edinburgh;Glasgow;Manchester;Birmingham;Liverpool;Leeds;
Bristol;Cardiff;Belfast;Oxford;Cambridge;Copenhagen;Stockholm;Oslo;Helsinki;Reykjavik;Warsaw;Krakow;Prague;Budapest;
Bucharest;Sofia;Athens;Istanbul;Ankara;Moscow;Kyiv;Kiev;Minsk;Riga;Vilnius;Tallinn;Belgrade;Zagreb;Ljubljana;
Tokyo;Osaka;Kyoto;Seoul;Busan;Beijing;Shanghai;Shenzhen;Guangzhou;Hong Kong;Taipei;Singapore;Bangkok;Hanoi;
Ho Chi Minh City;Manila;Jakarta;Kuala Lumpur;Mumbai;Delhi;New Delhi;Bangalore;Bengaluru;Chennai;Hyderabad;Kolkata;Pune;
Karachi;Lahore;Dhaka;Kathmandu;Dubai;Abu Dhabi;Doha;Riyadh;Jeddah;Tel Aviv;Jerusalem;Haifa;Beirut;Amman;Cairo;
Casablanca;Lagos;Abuja;Nairobi;Addis Ababa;Johannesburg;Cape Town;Durban;Accra;Sydney;Melbourne;Brisbane;Perth;
Adelaide;Auckland;Wellington;Toronto;Montreal;Vancouver;Calgary;Ottawa;Mexico City;Guadalajara;Bogota;Lima;Santiago;
Buenos Aires;Sao Paulo;São Paulo;Rio de Janeiro;Caracas;Havana;New York;New York City;Los Angeles;San Francisco;
Chicago;Boston;Seattle;Washington;Miami;Atlanta;Dallas;Houston;Austin;Denver;Phoenix;Philadelphia;Detroit;
Minneapolis;Portland;San Diego;San Jose;Las Vegas;Nashville;Baltimore;Pittsburgh;Brooklyn;Manhattan;Queens;Bronx;
Silicon Valley;Bavaria;Catalonia;Scotland;Wales;England;Northern Ireland;Europe;Asia;Africa;North America;
South America;Latin America;Middle East;Scandinavia;California;Texas;Florida`);
